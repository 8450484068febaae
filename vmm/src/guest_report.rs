//! What a guest reports about itself: its scenarios (list mode), its
//! verdict on a crash image (verify mode) and the checks it failed while
//! recording (findings).

use crate::error::VmmError;

/// A scenario a guest reported in list mode.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScenarioInfo {
    /// Its name.
    pub name: String,
    /// Its one-line description.
    pub description: String,
    /// Its variants (none when the guest names none).
    pub variants: Vec<VariantInfo>,
}

/// A variant of a scenario, as the guest reported it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VariantInfo {
    /// Its name.
    pub name: String,
    /// Its one-line description.
    pub description: String,
}

impl VariantInfo {
    /// The variants of a list-mode report: one line each, the name, a
    /// tab, the description (a line without a tab is a name alone).
    pub fn parse(text: &str) -> Vec<VariantInfo> {
        text.lines()
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (name, description) = l.split_once('\t').unwrap_or((l, ""));
                VariantInfo {
                    name: name.into(),
                    description: description.into(),
                }
            })
            .collect()
    }
}

/// What verify mode concluded about a crash image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    /// Every promise held and the file system is consistent.
    pub passed: bool,
    /// The stable name of the check that failed (e.g. `promised-data`), by
    /// which failures are grouped; empty when the guest named none (and
    /// when it passed). [`Verdict::GUEST_CRASHED`], [`Verdict::NO_VERDICT`]
    /// and [`Verdict::PROMISE`] are the VMM's own.
    pub check: String,
    /// The guest's message (what was lost, where).
    pub message: String,
}

impl Verdict {
    /// The check of a guest that failed (fault, timeout, bad exit) while recovering.
    pub const GUEST_CRASHED: &'static str = "guest-crashed";
    /// The check of a guest that exited without a verdict.
    pub const NO_VERDICT: &'static str = "no-verdict";
    /// The check of an image that broke a promise, by pmemvm's own check
    /// (`promise_check`), which needs no code in the guest.
    pub const PROMISE: &'static str = "promise";

    /// The verdict of a verify-mode run that ended with `run` (the guest's
    /// verdict, if it gave one): a run without one fails with the message
    /// `no_verdict` makes, one in which the guest crashed fails too.
    pub fn of_run(
        run: Result<Option<Verdict>, VmmError>,
        no_verdict: impl FnOnce() -> String,
    ) -> Result<Verdict, VmmError> {
        match run {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Ok(Verdict {
                passed: false,
                check: Verdict::NO_VERDICT.into(),
                message: no_verdict(),
            }),
            Err(e) if e.is_guest_failure() => Ok(Verdict {
                passed: false,
                check: Verdict::GUEST_CRASHED.into(),
                message: format!("the guest failed during recovery: {e}"),
            }),
            Err(e) => Err(e),
        }
    }
}

/// A check the guest failed in record mode.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// The check's stable name, empty when the guest named none.
    pub check: String,
    /// The guest's message.
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Named(&self.check, &self.message).fmt(f)
    }
}

/// The checks a guest failed in record mode, bounded: the first
/// [`Findings::PER_CHECK`] of each check and at most [`Findings::MAX`] in
/// all are kept, the others only counted, so a guest that floods findings
/// costs bounded memory.
#[derive(Debug, Default, Clone)]
pub struct Findings {
    /// The findings kept, in the order the guest reported them.
    pub kept: Vec<Finding>,
    /// How many more the guest reported.
    pub not_kept: u64,
}

impl Findings {
    /// Findings kept per check.
    pub const PER_CHECK: usize = 16;
    /// Findings kept in all.
    pub const MAX: usize = 256;

    /// Adds `finding`, or counts it when its check (or the whole) is full.
    pub fn push(&mut self, finding: Finding) {
        let same = self
            .kept
            .iter()
            .filter(|f| f.check == finding.check)
            .count();
        if same < Self::PER_CHECK && self.kept.len() < Self::MAX {
            self.kept.push(finding);
        } else {
            self.not_kept += 1;
        }
    }

    /// True when the guest failed no check.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// How many the guest reported.
    pub fn count(&self) -> u64 {
        self.kept.len() as u64 + self.not_kept
    }
}

/// A check and its message as people read them: `check: message`, or the
/// message alone for an unnamed check.
pub struct Named<'a>(pub &'a str, pub &'a str);

impl std::fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Named("", message) => f.write_str(message),
            Named(check, message) => write!(f, "{check}: {message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of_run(run: Result<Option<Verdict>, VmmError>) -> Result<Verdict, VmmError> {
        Verdict::of_run(run, || "exited".into())
    }

    #[test]
    fn the_vmm_names_a_missing_verdict_and_a_crashed_guest() {
        let given = Verdict {
            passed: false,
            check: "promised-data".into(),
            message: "lost".into(),
        };
        assert_eq!(of_run(Ok(Some(given.clone()))).ok(), Some(given));
        let none = of_run(Ok(None)).expect("a verdict");
        assert_eq!((none.passed, none.check.as_str()), (false, "no-verdict"));
        assert_eq!(none.message, "exited");
        let crashed = of_run(Err(VmmError::Protocol("bad".into()))).expect("a verdict");
        assert_eq!(
            (crashed.passed, crashed.check.as_str()),
            (false, "guest-crashed")
        );
        let config = VmmError::Config {
            what: "x".into(),
            reason: "y".into(),
        };
        assert!(of_run(Err(config)).is_err(), "not the guest's failure");
        for internal in [
            VmmError::Internal("x".into()),
            VmmError::panicked("worker"),
            VmmError::Interrupted("now"),
        ] {
            assert!(of_run(Err(internal)).is_err(), "never a verdict");
        }
    }

    #[test]
    fn variants_are_lines_of_a_name_a_tab_and_a_description() {
        let parsed = VariantInfo::parse("correct\tas merged\nno-fence\tno sfence\n\nbare\n");
        let pairs: Vec<(&str, &str)> = parsed
            .iter()
            .map(|v| (v.name.as_str(), v.description.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("correct", "as merged"),
                ("no-fence", "no sfence"),
                ("bare", "")
            ]
        );
        assert!(VariantInfo::parse("").is_empty());
    }

    #[test]
    fn findings_keep_the_first_of_each_check_and_count_the_rest() {
        let mut f = Findings::default();
        for i in 0..1000 {
            f.push(Finding {
                check: format!("check-{}", i % 2),
                message: i.to_string(),
            });
        }
        assert_eq!(f.kept.len(), 2 * Findings::PER_CHECK);
        assert_eq!(f.count(), 1000);
        assert_eq!(f.kept[0].message, "0");
        for i in 0..1000 {
            f.push(Finding {
                check: format!("c{i}"),
                message: String::new(),
            });
        }
        assert_eq!(f.kept.len(), Findings::MAX);
        assert_eq!(f.count(), 2000);
    }

    #[test]
    fn a_named_check_reads_check_colon_message() {
        assert_eq!(Named("mount", "bad").to_string(), "mount: bad");
        assert_eq!(Named("", "bad").to_string(), "bad");
    }
}
