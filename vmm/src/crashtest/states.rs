//! Which crash images a crash test builds at each point (`--states`).

use crate::error::VmmError;
use pmemvm_device::crash::{Image, ImageSpec};
use pmemvm_device::model::Model;
use std::fmt;
use std::str::FromStr;

/// One kind of image set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum States {
    /// Every unit at its lower bound.
    Minimal,
    /// Every unit at its latest write.
    Maximal,
    /// Every image, when there are at most N.
    Exhaustive(usize),
    /// ADR: at most K units dropped from the maximal image or raised from
    /// the minimal one; eADR: the K cuts nearest the last drain point.
    Subsets(usize),
    /// N seeded random images.
    Sample(usize),
}

/// The default `--states`.
pub const DEFAULT_STATES: &str = "minimal,maximal,subsets:2,sample:16";

impl fmt::Display for States {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            States::Minimal => write!(f, "minimal"),
            States::Maximal => write!(f, "maximal"),
            States::Exhaustive(n) => write!(f, "exhaustive:{n}"),
            States::Subsets(k) => write!(f, "subsets:{k}"),
            States::Sample(n) => write!(f, "sample:{n}"),
        }
    }
}

impl FromStr for States {
    type Err = VmmError;

    fn from_str(s: &str) -> Result<States, VmmError> {
        let bad = |reason: &str| VmmError::Config {
            what: format!("--states {s}"),
            reason: reason.into(),
        };
        let number = |n: &str| {
            n.parse::<usize>()
                .map_err(|_| bad("expected a whole number after `:`"))
        };
        Ok(match s.split_once(':') {
            None if s == "minimal" => States::Minimal,
            None if s == "maximal" => States::Maximal,
            Some(("exhaustive", n)) => States::Exhaustive(number(n)?),
            Some(("subsets", n)) => States::Subsets(number(n)?),
            Some(("sample", n)) => States::Sample(number(n)?),
            _ => {
                return Err(bad(
                    "expected minimal, maximal, exhaustive:N, subsets:K or sample:N",
                ));
            }
        })
    }
}

/// Parses a comma-separated `--states` list.
pub fn parse_list(s: &str) -> Result<Vec<States>, VmmError> {
    s.split(',').map(str::trim).map(str::parse).collect()
}

/// The images of one kind at the model's current point, at most `limit`.
pub fn images(
    model: &Model,
    states: States,
    limit: usize,
    seed: u64,
) -> Result<Vec<(ImageSpec, Image)>, VmmError> {
    let named = |spec: ImageSpec| -> Result<Vec<(ImageSpec, Image)>, VmmError> {
        let spec = model.resolve(&spec);
        let image = model.image(&spec)?;
        Ok(vec![(spec, image)])
    };
    Ok(match states {
        States::Minimal => named(ImageSpec::Minimal)?,
        States::Maximal => named(ImageSpec::Maximal)?,
        States::Exhaustive(n) => model.enumerate_images(n.min(limit)).unwrap_or_default(),
        States::Subsets(k) => model.subsets(k, limit),
        States::Sample(n) => model.sample(n.min(limit), seed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_every_kind() {
        let list = parse_list(DEFAULT_STATES).expect("default parses");
        assert_eq!(
            list,
            [
                States::Minimal,
                States::Maximal,
                States::Subsets(2),
                States::Sample(16)
            ]
        );
        for s in ["exhaustive:64", "sample:3", "subsets:1", "minimal"] {
            assert_eq!(s.parse::<States>().expect("parses").to_string(), s);
        }
        for bad in ["everything", "sample:", "sample:x", "subsets:-1", ""] {
            let err = bad.parse::<States>().expect_err(bad).to_string();
            assert!(err.contains("--states"), "{err}");
        }
    }
}
