//! Which master key seals this instance's secrets (`domain::seal`). `AUTHD_MASTER_KEY` (or its
//! `_FILE`) when set; it is required with PostgreSQL, where every instance must hold the same
//! key (`Config::validate` says so). Otherwise, with SQLite, the key in the file
//! `AUTHD_MASTER_KEY_PATH` (default: `<database file>.key`), generated there on first start
//! with mode `0600`. The file is written whole under a temporary name and then linked into
//! place, so two processes starting together end up with one key. An in-memory database gets a
//! key for the life of the process.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};

use crate::config::Config;
use crate::domain::clock::Random;
use crate::domain::seal::{MasterKey, Sealer};

/// The variable that names the key file, for errors.
const PATH_VAR: &str = "AUTHD_MASTER_KEY_PATH";

/// The sealer for this instance: the configured key, or the SQLite key file (created if
/// absent).
pub fn sealer(config: &Config, random: Arc<dyn Random>) -> anyhow::Result<Sealer> {
    if let Some(key) = &config.master_key {
        return Ok(Sealer::new(key.clone(), "AUTHD_MASTER_KEY", random));
    }
    if !config.database_url.starts_with("sqlite:") {
        bail!("AUTHD_MASTER_KEY: required with PostgreSQL (the same key on every instance)");
    }
    let path = config.master_key_path.clone().or_else(|| {
        crate::storage::sqlite::database_file(&config.database_url).map(|db| {
            let mut name = db.into_os_string();
            name.push(".key");
            PathBuf::from(name)
        })
    });
    let Some(path) = path else {
        tracing::warn!(
            "in-memory database without AUTHD_MASTER_KEY: secrets are sealed with a key that \
             lives as long as this process"
        );
        let key = MasterKey::generate(random.as_ref());
        return Ok(Sealer::new(key, "AUTHD_MASTER_KEY", random));
    };
    let key = load_or_create(&path, random.as_ref())?;
    let origin = format!(
        "AUTHD_MASTER_KEY (unset, so the key in {}, {PATH_VAR})",
        path.display()
    );
    Ok(Sealer::new(key, &origin, random))
}

/// The key file, when the master key is the SQLite key file in the database's own directory
/// (the default): a copy of that directory (a backup, a stolen disk image) carries the key with
/// the sealed secrets, so they are as good as unsealed (docs/key-custody.md). `None` when the
/// key comes from `AUTHD_MASTER_KEY` (or its `_FILE`), from a file elsewhere, or the database
/// is in memory or on PostgreSQL.
pub fn beside_the_database(config: &Config) -> Option<PathBuf> {
    if config.master_key.is_some() || !config.database_url.starts_with("sqlite:") {
        return None;
    }
    let db = crate::storage::sqlite::database_file(&config.database_url)?;
    let key = config.master_key_path.clone().unwrap_or_else(|| {
        let mut name = db.clone().into_os_string();
        name.push(".key");
        PathBuf::from(name)
    });
    let dir = |p: &Path| {
        let parent = p.parent().filter(|d| !d.as_os_str().is_empty());
        let parent = parent.unwrap_or(Path::new("."));
        std::path::absolute(parent).unwrap_or_else(|_| parent.to_path_buf())
    };
    (dir(&db) == dir(&key)).then_some(key)
}

/// Reads the key file, or creates it with a fresh key.
fn load_or_create(path: &Path, random: &dyn Random) -> anyhow::Result<MasterKey> {
    if !path.exists() {
        let key = MasterKey::generate(random);
        if create(path, &key, random)? {
            tracing::info!(
                path = %path.display(),
                key_id = %key.id(),
                "generated the master key that seals secrets at rest ({PATH_VAR}); back it up \
                 with the database"
            );
            return Ok(key);
        }
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{PATH_VAR}: cannot read {}", path.display()))?;
    let key = MasterKey::parse(&text).with_context(|| {
        format!(
            "{PATH_VAR}: {} does not hold base64 of 32 bytes",
            path.display()
        )
    })?;
    make_private(path);
    tracing::info!(path = %path.display(), key_id = %key.id(), "master key read ({PATH_VAR})");
    Ok(key)
}

/// Writes `key` to a `0600` temporary file beside `path`, then links it into place; `false`
/// if another process created `path` first (its key is then the one to use).
fn create(path: &Path, key: &MasterKey, random: &dyn Random) -> anyhow::Result<bool> {
    use std::io::Write;
    let fail = |what: &str| format!("{PATH_VAR}: cannot {what} {}", path.display());
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", random.token(6)));
    let tmp = PathBuf::from(tmp);
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    let written = open.open(&tmp).and_then(|mut f| {
        f.write_all(format!("{}\n", key.to_base64()).as_bytes())?;
        f.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e).with_context(|| fail("create")),
    }
}

/// Takes group and other access away from an existing key file.
fn make_private(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(meta) = std::fs::metadata(path) else {
            return;
        };
        if meta.permissions().mode() & 0o077 != 0 {
            match std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
                Ok(()) => {
                    tracing::warn!(path = %path.display(), "master key file was readable by others; now 0600")
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "master key file is readable by others")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::clock::OsRandom;

    fn sqlite_config(dir: &Path) -> Config {
        let url = format!("sqlite://{}?mode=rwc", dir.join("a.db").display());
        Config::from_values(&[("database_url".to_owned(), url)].into_iter().collect()).unwrap()
    }

    #[test]
    fn the_sqlite_key_is_generated_once_beside_the_database_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let config = sqlite_config(dir.path());
        let first = sealer(&config, Arc::new(OsRandom)).unwrap();
        let path = dir.path().join("a.db.key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
        let again = sealer(&config, Arc::new(OsRandom)).unwrap();
        assert_eq!(
            first.key_id(),
            again.key_id(),
            "the same key on the next start"
        );
        let only: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(only.len(), 1, "no temporary file left behind");
    }

    #[test]
    fn a_bad_key_file_stops_start_up_naming_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = sqlite_config(dir.path());
        let path = dir.path().join("custom.key");
        std::fs::write(&path, "not a key").unwrap();
        config.master_key_path = Some(path);
        let err = format!("{:#}", sealer(&config, Arc::new(OsRandom)).unwrap_err());
        assert!(err.starts_with("AUTHD_MASTER_KEY_PATH: "), "{err}");
        assert!(!err.contains('\n'));
    }

    #[test]
    fn a_key_file_beside_the_database_is_flagged() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = sqlite_config(dir.path());
        assert_eq!(
            beside_the_database(&config),
            Some(dir.path().join("a.db.key"))
        );
        let elsewhere = tempfile::tempdir().unwrap();
        config.master_key_path = Some(elsewhere.path().join("k"));
        assert_eq!(beside_the_database(&config), None);
        config.master_key_path = None;
        config.master_key = Some(MasterKey::generate(&OsRandom));
        assert_eq!(beside_the_database(&config), None);
        let default = Config::from_values(&Default::default()).unwrap();
        assert_eq!(
            beside_the_database(&default),
            Some(PathBuf::from("authd.db.key"))
        );
    }

    #[test]
    fn postgres_without_a_key_is_refused() {
        let mut config = sqlite_config(Path::new("/nonexistent"));
        config.database_url = "postgres://db.example/authd".into();
        let err = sealer(&config, Arc::new(OsRandom)).unwrap_err().to_string();
        assert!(err.starts_with("AUTHD_MASTER_KEY: required"), "{err}");
    }
}
