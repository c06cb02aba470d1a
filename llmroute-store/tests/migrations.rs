//! Migrations when several instances start at once, and a schema newer than this build.

#![allow(clippy::unwrap_used)]

mod common;

use common::{base_url, options, url_for, with_pg_db};
use llmroute_store::{open_with, StoreError};

#[tokio::test]
async fn four_instances_migrating_one_postgres_database_at_once() {
    with_pg_db(|db| async move {
        let dir = tempfile::tempdir().unwrap();
        let url = url_for(&base_url(), &db);
        let opens = (0..4).map(|_| open_with(options(Some(url.clone()), dir.path())));
        let stores = futures::future::join_all(opens).await;
        let versions: Vec<u32> =
            futures::future::join_all(stores.into_iter().map(|s| async move {
                let s = s.expect("every instance starts");
                s.migrate().await.unwrap()
            }))
            .await;
        assert!(
            versions.iter().all(|v| *v == versions[0] && *v >= 1),
            "{versions:?}"
        );
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let rows = client
            .query(
                "SELECT version FROM llmroute_schema_migrations ORDER BY version",
                &[],
            )
            .await
            .unwrap();
        let applied: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
        assert_eq!(
            applied,
            (1..=versions[0] as i32).collect::<Vec<_>>(),
            "each version applied exactly once"
        );
        // A newer llmroute migrated this database: refuse, say what to do.
        client
            .execute(
                "INSERT INTO llmroute_schema_migrations (version, name) VALUES (999, 'future')",
                &[],
            )
            .await
            .unwrap();
        let err = open_with(options(Some(url.clone()), dir.path()))
            .await
            .err()
            .unwrap();
        assert!(
            matches!(err, StoreError::SchemaTooNew { found: 999, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("run the newer llmroute"));
    })
    .await;
}

#[tokio::test]
async fn two_instances_migrating_one_sqlite_file_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("shared.db").display());
    let (a, b) = tokio::join!(
        open_with(options(Some(url.clone()), dir.path())),
        open_with(options(Some(url.clone()), dir.path()))
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let created = a.create_key(Default::default()).await.unwrap();
    assert!(
        b.get_key(&created.record.token_hash)
            .await
            .unwrap()
            .is_some(),
        "both see one database"
    );
    assert_eq!(a.migrate().await.unwrap(), b.migrate().await.unwrap());
    let conn = rusqlite::Connection::open(dir.path().join("shared.db")).unwrap();
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM llmroute_schema_migrations", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(n, 1);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn default_is_an_embedded_file_in_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let store = llmroute_store::open(None, &dir.path().join(".llmroute"))
        .await
        .unwrap();
    assert_eq!(store.backend(), "sqlite");
    assert!(dir.path().join(".llmroute/llmroute.db").exists());
}
