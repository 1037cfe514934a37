//! Why a pass cannot go on, and the message prefixes upstream composes (§4.7).

/// Who has to act on an abort; decides the message prefix and the metric's `failureType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// The user's input is wrong (`failed to process the request due to a client error: `).
    User,
    /// An inconsistency the controller cannot handle (`unexpected behavior ...`).
    Internal,
    /// No category prefix.
    Plain,
}

/// The phrase that marks a user error; the metric classification looks for it.
pub const CLIENT_ERROR: &str = "failed to process the request due to a client error: ";
const INTERNAL_ERROR: &str = "unexpected behavior which cannot be handled by the controller: ";
/// Prefix of every abort message.
pub const CANNOT_CONTINUE: &str = "cannot continue the updateRun: ";
const VALIDATION: &str = "failed to validate the updateRun: ";

/// A pass that cannot complete normally.
#[derive(Clone, Debug, PartialEq)]
pub enum Failure {
    /// Non-retriable: the run (or its initialization) fails for good.
    Abort(String),
    /// Initialization waits for something that resolves by itself (SD-12).
    Pending(String),
    /// Transient: retry with back-off.
    Retry(String),
}

fn categorized(category: Category, detail: &str) -> String {
    match category {
        Category::User => format!("{CLIENT_ERROR}{detail}"),
        Category::Internal => format!("{INTERNAL_ERROR}{detail}"),
        Category::Plain => detail.to_string(),
    }
}

/// An abort found while (re)checking what initialization checks.
pub fn validation_abort(category: Category, detail: impl AsRef<str>) -> Failure {
    Failure::Abort(format!(
        "{CANNOT_CONTINUE}{VALIDATION}{}",
        categorized(category, detail.as_ref())
    ))
}

/// An abort found by a re-validation comparison or during execution.
pub fn abort(category: Category, detail: impl AsRef<str>) -> Failure {
    Failure::Abort(format!("{CANNOT_CONTINUE}{}", categorized(category, detail.as_ref())))
}

impl Failure {
    /// The message, whatever the class.
    pub fn into_message(self) -> String {
        match self {
            Failure::Abort(m) | Failure::Pending(m) | Failure::Retry(m) => m,
        }
    }
}
