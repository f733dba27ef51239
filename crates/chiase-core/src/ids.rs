//! Typed identifiers: the internal keys of datasets, agencies, users,
//! grants and requests are all integers, and a dataset's key passed where
//! an agency's is expected would compile silently if they were plain
//! `i64`s. Each kind has its own type; the store makes them from rows.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl $name {
            /// The integer as stored.
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }
    };
}

id_type!(
    /// A hosted dataset (`datasets.id`).
    DatasetId
);
id_type!(
    /// An agency (`agencies.id`).
    AgencyId
);
id_type!(
    /// An account (`users.id`).
    UserId
);
id_type!(
    /// A sharing request (`sharing_requests.id`); once approved, the grant.
    RequestId
);
id_type!(
    /// An API token (`api_tokens.id`).
    TokenId
);

/// A grant is an approved request: the same row, the same number.
pub type GrantId = RequestId;
