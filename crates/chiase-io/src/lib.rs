//! chiase-io: readers and writers of the files chiase takes and gives.
//!
//! Catalog tables (the decision's format, CSV, XLSX), character encodings,
//! dataset files read record by record within bounds (`tabular`, `limits`),
//! schema inference, and the writers of every export (`writers`).
//! Everything here works on bytes and readers; nothing knows SQL or HTTP.

pub mod datapackage;
pub mod decision_table;
pub mod demo;
pub mod encoding;
pub mod infer;
pub mod layout;
pub mod limits;
pub mod marked;
pub mod sheets;
pub mod spool;
pub mod tabular;
pub mod templates;
pub mod writers;
