//! Every integration test of this crate, in one binary: each file under
//! `tests/` would be one more binary to compile and link against the
//! crate. Add a test as a module here (see DO_NOT_ADD_MORE_TESTS_HERE).

mod support;
mod certificate_credential;
mod cloud_credentials;
mod conformance;
mod credential_errors;
mod downstream_api;
mod ended_sessions;
mod fail_closed;
mod graph_client;
mod hostile_provider;
mod https_emulator;
mod id_token_validation;
mod incremental_consent;
mod isolation;
mod key_rotation;
mod logs;
mod microsoft_settings;
mod multi_tenant;
mod national_cloud;
mod provider_logout;
mod provider_outages;
mod redis_outage;
mod session_lifetime;
mod settings_schema;
mod shared_cache;
mod shared_sessions;
mod sign_in_flood;
mod sign_in_flow;
mod token_acquisition;
