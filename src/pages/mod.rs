//! One module per page; each holds the server functions it calls.

mod diagnostics;
mod home;
mod mail;
mod not_found;
mod profile;
mod sign_in_error;
mod todo;

pub use diagnostics::{my_diagnostics, Diagnostics, DiagnosticsPage};
pub use home::HomePage;
pub use mail::{mail_count, message_href, my_message, my_messages, MailBatch, MailPage, MailSummary, MessageDetail, MessagePage};
pub use not_found::NotFoundPage;
pub use profile::{my_profile, Profile, ProfilePage};
pub use sign_in_error::SignInErrorPage;
pub use todo::{add_todo, delete_todo, my_todos, restore_todo, set_todo_completed, EditorState, TodoCommand, TodoItem, TodoNotice, TodoPage};
pub use todo::form::{Problem, Target};
#[cfg(feature = "ssr")]
pub use todo::{todo_api_configured, valid_transaction_id};
