//! The to-do page without JavaScript: each form posts to `/todo` with an
//! `intent`; the server carries it out and answers with a redirect to the
//! page and a notice (post, redirect, get: a reload sends nothing again),
//! or with the page itself showing the problem next to what failed.
//! The island sends the same intents through server functions instead.

use serde::{Deserialize, Serialize};

/// What a form post to `/todo` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TodoCommand {
    /// Add an item; `transaction_id` makes a repeated post add it once.
    Add {
        /// What the person typed.
        title: String,
        /// The form's name for this add.
        transaction_id: String,
    },
    /// Mark an item done (`true`) or not done.
    SetCompleted {
        /// The item.
        id: u64,
        /// The state asked for.
        completed: bool,
    },
    /// Delete an item (it can be restored for a while).
    Delete {
        /// The item.
        id: u64,
    },
    /// Undo an item's deletion.
    Restore {
        /// The item.
        id: u64,
    },
}

/// Where a problem shows: at the title field, under the add form, in an
/// item's row or beside the undo notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// The new item's title (a validation message).
    Title,
    /// The add form (the service failed).
    Add,
    /// One item's row.
    Item(u64),
    /// The undo of a deletion.
    Undo,
}

/// An action that failed: what went wrong, shown where it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Where it shows.
    pub at: Target,
    /// What happened and what to do.
    pub message: String,
    /// A sign-in or consent link, when only the person can fix it there.
    pub fix: Option<String>,
}

/// What the page says after an action that worked (the only text a
/// `?done=` query can put on the page).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TodoNotice {
    /// An item was added.
    Added,
    /// The item was marked done.
    Completed(u64),
    /// The item was marked not done.
    Reopened(u64),
    /// The item was deleted: the notice offers to undo it.
    Deleted(u64),
    /// The item's deletion was undone.
    Restored(u64),
}

impl TodoNotice {
    /// The page to land on after the action: the notice in the query and,
    /// for an item, its row as the fragment (the browser scrolls to it).
    pub fn location(self) -> String {
        match self {
            Self::Added => "/todo?done=added".to_owned(),
            Self::Completed(id) => format!("/todo?done=completed&id={id}#todo-{id}"),
            Self::Reopened(id) => format!("/todo?done=reopened&id={id}#todo-{id}"),
            Self::Deleted(id) => format!("/todo?done=deleted&id={id}"),
            Self::Restored(id) => format!("/todo?done=restored&id={id}#todo-{id}"),
        }
    }

    /// The notice a `?done=..&id=..` query names; `None` for anything else.
    pub fn from_query(done: Option<&str>, id: Option<&str>) -> Option<Self> {
        let id = || id.and_then(|id| id.parse::<u64>().ok());
        Some(match done? {
            "added" => Self::Added,
            "completed" => Self::Completed(id()?),
            "reopened" => Self::Reopened(id()?),
            "deleted" => Self::Deleted(id()?),
            "restored" => Self::Restored(id()?),
            _ => return None,
        })
    }

    /// What it says.
    pub fn text(self) -> &'static str {
        match self {
            Self::Added => "Added.",
            Self::Completed(_) => "Marked as done.",
            Self::Reopened(_) => "Marked as not done.",
            Self::Deleted(_) => "Deleted.",
            Self::Restored(_) => "Restored.",
        }
    }

    /// The deleted item an "Undo" restores.
    pub fn undoable(self) -> Option<u64> {
        match self {
            Self::Deleted(id) => Some(id),
            _ => None,
        }
    }
}

#[cfg(feature = "ssr")]
impl TodoCommand {
    /// The command of a form body (`application/x-www-form-urlencoded`),
    /// or what is wrong with it.
    pub fn from_form(body: &[u8]) -> Result<Self, String> {
        let field = |name: &str| form_urlencoded::parse(body).find(|(key, _)| key == name).map(|(_, value)| value.into_owned());
        let id = || -> Result<u64, String> {
            let id = field("id").ok_or("the form names no item")?;
            id.parse().map_err(|_| "the form names no item".to_owned())
        };
        match field("intent").as_deref() {
            Some("add") => Ok(Self::Add { title: field("title").unwrap_or_default(), transaction_id: field("transaction_id").unwrap_or_default() }),
            Some("complete") => Ok(Self::SetCompleted { id: id()?, completed: true }),
            Some("reopen") => Ok(Self::SetCompleted { id: id()?, completed: false }),
            Some("delete") => Ok(Self::Delete { id: id()? }),
            Some("restore") => Ok(Self::Restore { id: id()? }),
            _ => Err("the form asks for nothing this page does".to_owned()),
        }
    }

    /// Carries the command out for the signed-in user (in a request's
    /// context, as the server functions it calls need): the notice to
    /// land on, or what failed, where it shows, and why.
    pub async fn perform(self) -> Result<TodoNotice, (Target, String, crate::error::AppError)> {
        use super::{add_todo, delete_todo, restore_todo, set_todo_completed};
        match self {
            Self::Add { title, transaction_id } => match add_todo(title, transaction_id).await {
                Ok(_) => Ok(TodoNotice::Added),
                Err(error @ crate::error::AppError::Invalid(_)) => Err((Target::Title, String::new(), error)),
                Err(error) => Err((Target::Add, "Not added: ".into(), error)),
            },
            Self::SetCompleted { id, completed } => match set_todo_completed(id, completed).await {
                Ok(_) if completed => Ok(TodoNotice::Completed(id)),
                Ok(_) => Ok(TodoNotice::Reopened(id)),
                Err(error) => {
                    let prefix = if completed { "Not marked as done: " } else { "Not marked as not done: " };
                    Err((Target::Item(id), prefix.into(), error))
                }
            },
            Self::Delete { id } => delete_todo(id).await.map(TodoNotice::Deleted).map_err(|error| (Target::Item(id), "Not deleted: ".into(), error)),
            Self::Restore { id } => {
                restore_todo(id).await.map(|_| TodoNotice::Restored(id)).map_err(|error| (Target::Undo, "Not restored: ".into(), error))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TodoNotice;

    #[test]
    fn a_notice_survives_its_own_location_and_nothing_else_makes_one() {
        for notice in [TodoNotice::Added, TodoNotice::Completed(3), TodoNotice::Reopened(4), TodoNotice::Deleted(5), TodoNotice::Restored(6)] {
            let location = notice.location();
            let query = location.split_once('?').unwrap().1.split('#').next().unwrap();
            let value = |name: &str| query.split('&').find_map(|pair| pair.strip_prefix(&format!("{name}=")));
            assert_eq!(TodoNotice::from_query(value("done"), value("id")), Some(notice), "{location}");
        }
        assert_eq!(TodoNotice::from_query(Some("deleted"), None), None, "a deletion names its item");
        assert_eq!(TodoNotice::from_query(Some("<script>"), Some("1")), None);
        assert_eq!(TodoNotice::from_query(Some("deleted"), Some("1<b>")), None);
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn form_posts_become_commands_or_say_what_is_wrong() {
        use super::TodoCommand;
        assert_eq!(
            TodoCommand::from_form(b"intent=add&title=Water+the+plants&transaction_id=abc-1"),
            Ok(TodoCommand::Add { title: "Water the plants".into(), transaction_id: "abc-1".into() })
        );
        assert_eq!(TodoCommand::from_form(b"intent=complete&id=7"), Ok(TodoCommand::SetCompleted { id: 7, completed: true }));
        assert_eq!(TodoCommand::from_form(b"id=7&intent=reopen"), Ok(TodoCommand::SetCompleted { id: 7, completed: false }));
        assert_eq!(TodoCommand::from_form(b"intent=delete&id=8"), Ok(TodoCommand::Delete { id: 8 }));
        assert_eq!(TodoCommand::from_form(b"intent=restore&id=8"), Ok(TodoCommand::Restore { id: 8 }));
        assert!(TodoCommand::from_form(b"intent=delete&id=x").unwrap_err().contains("no item"));
        assert!(TodoCommand::from_form(b"intent=drop").unwrap_err().contains("nothing this page does"));
        assert!(TodoCommand::from_form(b"").is_err());
    }
}
