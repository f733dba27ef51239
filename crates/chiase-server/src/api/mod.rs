//! The JSON API, version 1: one module per resource, each with its router
//! (utoipa-axum: each route is registered by its documented handler), and
//! `openapi` (the document, `/api/v1`, the reference page).

pub mod accounts;
pub mod agencies;
pub mod audit;
pub mod catalog;
pub mod ckan;
pub mod databases;
pub mod datapackage;
pub mod datasets;
pub mod exports;
pub mod files;
pub mod harvest;
pub mod health;
pub mod openapi;
pub mod records;
pub mod render;
pub mod requests;
pub mod schemas;
pub mod services;
pub mod sync;
