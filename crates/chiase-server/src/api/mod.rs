//! The JSON API, version 1: one module per resource, each with its router.

pub mod accounts;
pub mod agencies;
pub mod audit;
pub mod catalog;
pub mod databases;
pub mod datasets;
pub mod exports;
pub mod files;
pub mod health;
pub mod records;
pub mod render;
pub mod requests;
