//! Every integration test of this crate, in one binary: each file under
//! `tests/` would be one more binary to compile and link against the
//! crate. Add a test as a module here (see DO_NOT_ADD_MORE_TESTS_HERE).

mod support;
mod authorize;
mod azure_services;
mod client_assertion;
mod config_file;
mod conformance;
mod faults;
mod graph;
mod https;
mod identity_platform;
mod logout;
mod sample_api;
