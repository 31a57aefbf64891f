//! Storage errors. Unique violations are recognised once, here, and named by constraint.

/// What a storage call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist.
    #[error("not found")]
    NotFound,
    /// A unique constraint refused the write.
    #[error("conflict on {constraint}")]
    Conflict {
        /// The constraint (PostgreSQL name, or `table.column` on SQLite).
        constraint: String,
    },
    /// A stored value could not be decoded.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error("database error")]
    Backend(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                let constraint = db.constraint().map(str::to_owned).unwrap_or_else(|| {
                    // SQLite: "UNIQUE constraint failed: account.email"
                    db.message()
                        .rsplit(": ")
                        .next()
                        .unwrap_or("unknown")
                        .to_owned()
                });
                Self::Conflict { constraint }
            }
            _ => Self::Backend(e),
        }
    }
}
