//! chiase-core: the domain of chiase without IO.
//!
//! Vietnamese folding, the catalog model and its derivations, agencies and
//! their lifecycle. Nothing here touches a database, a file or the network,
//! and nothing is async: the store and the server call into it.

pub mod accounts;
pub mod agency;
pub mod catalog;
pub mod catalog_index;
pub mod fold;
pub mod human;
pub mod ids;
pub mod policy;
pub mod query;
pub mod requests;
pub mod schema;
pub mod sharing;
pub mod text;
pub mod theme;

mod error;

pub use error::{DomainError, Msg};
