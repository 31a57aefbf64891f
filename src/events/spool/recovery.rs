//! The spool's start-up recovery: stores the events a previous process left in its segments
//! (`Spool::recover`), flushes the database's log, then deletes those segments, or sets one
//! aside as `.bad` when a line other than the last (cut short by the crash) did not parse.

use std::fs::File;
use std::io::{self, BufRead};
use std::path::{Path, PathBuf};

use super::{Line, SpoolError, io_at, segment_path};
use crate::events::AuthEvent;
use crate::events::decision::Decision;
use crate::storage::EventStore;
use crate::storage::error::StoreError;

/// Events stored per transaction when recovering.
const RECOVER_BATCH: usize = 256;

/// Stores what the segments under `prefix` hold and deletes them (or sets them aside); the
/// number of the last one found (0 with none).
pub(super) async fn take_in(
    db: &Path,
    prefix: &Path,
    store: &dyn EventStore,
) -> Result<u64, SpoolError> {
    let mut last = 0;
    let found = segments(prefix).map_err(io_at(prefix))?;
    let mut read = Vec::with_capacity(found.len());
    for (n, path) in found {
        let (events, unreadable) = read_segment(&path).map_err(io_at(&path))?;
        store_all(store, &events).await?;
        if !events.is_empty() {
            tracing::info!(events = events.len(), segment = n, "event spool recovered");
        }
        read.push((path, unreadable));
        last = n;
    }
    if !read.is_empty() {
        sync_database(db).map_err(io_at(db))?;
    }
    for (path, unreadable) in read {
        if unreadable == 0 {
            std::fs::remove_file(&path).map_err(io_at(&path))?;
            continue;
        }
        // Not a cut-short last line: kept aside for an operator, never read again.
        let mut aside = path.as_os_str().to_owned();
        aside.push(".bad");
        // Numbers start again at 1 once no segment is left: never replace an older one.
        let mut n = 0;
        while Path::new(&aside).exists() {
            n += 1;
            aside = path.as_os_str().to_owned();
            aside.push(format!(".bad.{n}"));
        }
        tracing::error!(segment = %path.display(), unreadable, "unreadable lines in the event spool: segment kept as .bad");
        std::fs::rename(&path, PathBuf::from(aside)).map_err(io_at(&path))?;
    }
    Ok(last)
}

/// The segments on disk, oldest first.
fn segments(prefix: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let dir = prefix.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let stem = prefix
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(n) = name.strip_prefix(&stem).and_then(|n| n.parse::<u64>().ok()) {
            found.push((n, segment_path(prefix, n)));
        }
    }
    found.sort();
    Ok(found)
}

/// The events of one segment, and how many lines other than the last did not parse. The last
/// line may be cut short by the crash (its request never answered) and is skipped quietly.
fn read_segment(path: &Path) -> io::Result<(Vec<AuthEvent>, usize)> {
    let mut events = Vec::new();
    let mut unreadable = 0;
    let mut lines = io::BufReader::new(File::open(path)?)
        .split(b'\n')
        .peekable();
    while let Some(line) = lines.next() {
        let line = line?;
        let Ok(line) = serde_json::from_slice::<Line>(&line) else {
            if lines.peek().is_some() {
                unreadable += 1;
            }
            continue;
        };
        let mut event = line.event;
        event.decision_code = line.code.as_deref().and_then(Decision::from_code);
        events.push(event);
    }
    Ok((events, unreadable))
}

/// Flushes the database's log (or the database, without one) to disk, so a segment deleted
/// after its events were stored cannot outlive them on a power loss.
fn sync_database(db: &Path) -> io::Result<()> {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    match File::open(PathBuf::from(wal)) {
        Ok(f) => f.sync_all(),
        // The database itself only through a descriptor never closed (SQLite's locks).
        Err(_) => crate::storage::sqlite_wal::held_open(db)?.sync_all(),
    }
}

/// Stores `events`, those already stored (same id) left as they are.
async fn store_all(store: &dyn EventStore, events: &[AuthEvent]) -> Result<(), StoreError> {
    for chunk in events.chunks(RECOVER_BATCH) {
        let refs: Vec<&AuthEvent> = chunk.iter().collect();
        if store.insert_many(&refs).await.is_ok() {
            continue;
        }
        for e in chunk {
            match store.insert(e).await {
                Ok(()) | Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}
