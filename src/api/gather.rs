//! Validating several fields at once.
//!
//! The contract asks for one field violation *per bad field*, so a request
//! with a bad id and a bad value must report both, not stop at the first.
//! Each check returns `Result<T, Violation>`; [`Gather`] turns a tuple of
//! them into either all the values or every violation:
//!
//! ```text
//! let (name, value) = (DocumentName::parse(..), check_value(..)).gather()?;
//! ```

use crate::error::{Error, Violation};

/// A tuple of field checks that can be gathered into one result.
pub trait Gather {
    /// The tuple of checked values.
    type Output;
    /// All values, or INVALID_ARGUMENT with every violation in field order.
    fn gather(self) -> Result<Self::Output, Error>;
}

macro_rules! impl_gather {
    ($($T:ident $v:ident),+) => {
        impl<$($T),+> Gather for ($(Result<$T, Violation>,)+) {
            type Output = ($($T,)+);

            fn gather(self) -> Result<Self::Output, Error> {
                let ($($v,)+) = self;
                let mut violations = Vec::new();
                $(let $v = $v.map_err(|v| violations.push(v));)+
                match ($($v,)+) {
                    ($(Ok($v),)+) => Ok(($($v,)+)),
                    _ => Err(Error::InvalidArgument(violations)),
                }
            }
        }
    };
}

/// INVALID_ARGUMENT for a request whose required message `field` is missing,
/// with the violations of the checks that do not need it: a missing message
/// is one bad field among the others, not a reason to stop looking.
pub fn missing(field: &str, others: impl IntoIterator<Item = Result<(), Violation>>) -> Error {
    let mut violations = vec![Violation::new(field, "is required")];
    violations.extend(others.into_iter().filter_map(Result::err));
    Error::InvalidArgument(violations)
}

impl_gather!(A a, B b);
impl_gather!(A a, B b, C c);
impl_gather!(A a, B b, C c, D d);
impl_gather!(A a, B b, C c, D d, E e);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_ok_gives_all_values() {
        let ok: Result<u8, Violation> = Ok(1);
        assert_eq!((ok.clone(), Ok::<_, Violation>("x")).gather(), Ok((1, "x")));
    }

    #[test]
    fn a_missing_message_comes_with_the_other_violations() {
        let err = missing("document", [Ok(()), Err(Violation::new("parent", "bad"))]);
        assert_eq!(
            err,
            Error::InvalidArgument(vec![
                Violation::new("document", "is required"),
                Violation::new("parent", "bad"),
            ])
        );
    }

    #[test]
    fn every_violation_is_reported_in_order() {
        let a: Result<u8, _> = Err(Violation::new("a", "bad"));
        let b: Result<u8, _> = Ok(2);
        let c: Result<u8, _> = Err(Violation::new("c", "bad"));
        let err = (a, b, c).gather().unwrap_err();
        assert_eq!(
            err,
            Error::InvalidArgument(vec![Violation::new("a", "bad"), Violation::new("c", "bad")])
        );
    }
}
