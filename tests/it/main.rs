//! Every integration test of this crate, in one binary: each file under
//! `tests/` would be one more binary to compile and link against the
//! crate. Add a test as a module here (see DO_NOT_ADD_MORE_TESTS_HERE).

mod common;
mod app_router;
mod bench_harness;
mod documented_settings;
mod health;
mod isolation;
mod layering;
mod metrics;
mod resilience;
mod security_matrix;
mod site_settings;
mod watch_loop;
