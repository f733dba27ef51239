//! chiase-io: readers and writers of the files chiase takes and gives.
//!
//! Catalog tables (the decision's format, CSV, XLSX) and character
//! encodings. Everything here works on bytes and readers; nothing knows SQL
//! or HTTP.

pub mod decision_table;
pub mod demo;
pub mod encoding;
pub mod infer;
pub mod limits;
pub mod tabular;
pub mod templates;
