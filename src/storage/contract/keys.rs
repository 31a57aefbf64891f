//! Signing keys: rotation retires the active ones; resealing rewrites a key only if it still
//! holds the value read (two instances resealing together do not clash).

use crate::storage::Store;
use crate::storage::oauth::KeyRecord;

fn key(kid: &str, private_key: &str, created_at: i64) -> KeyRecord {
    KeyRecord {
        kid: kid.into(),
        alg: "ES256".into(),
        private_key: private_key.into(),
        public_jwk: "{}".into(),
        created_at,
        retire_after: None,
    }
}

pub(super) async fn keys_contract(store: &Store) {
    let keys = &store.keys;
    keys.rotate(&[key("k1", "plain:AQID", 10)], 0)
        .await
        .unwrap();
    keys.rotate(&[key("k2", "v2:x:y", 20)], 100).await.unwrap();
    let published: Vec<_> = keys
        .list_published(50)
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.kid, k.retire_after))
        .collect();
    assert_eq!(
        published,
        [("k2".to_owned(), None), ("k1".to_owned(), Some(100))]
    );
    // Retired and unpublished keys are resealed too.
    let all = keys.list_private().await.unwrap();
    assert_eq!(
        all,
        [
            ("k1".to_owned(), "plain:AQID".to_owned()),
            ("k2".to_owned(), "v2:x:y".to_owned())
        ]
    );
    assert!(
        keys.replace_private("k1", "plain:AQID", "v2:a:b")
            .await
            .unwrap()
    );
    assert!(
        !keys
            .replace_private("k1", "plain:AQID", "v2:c:d")
            .await
            .unwrap(),
        "the other instance got there first"
    );
    let k1 = keys.list_private().await.unwrap();
    assert_eq!(k1.first().map(|(_, v)| v.as_str()), Some("v2:a:b"));
}
