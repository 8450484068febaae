//! The matrix of a campaign: its seeds, its cells (variant x persistence
//! domain x seed, in that order) and the shard of them a run takes.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// At most this many seeds in one campaign.
pub const MAX_SEEDS: u64 = 1_000_000;

/// Parses a list of seeds and inclusive ranges (`1..1000`, `1,5,9..12`):
/// sorted, each once.
pub fn parse_seeds(spec: &str) -> Result<Vec<u64>, String> {
    let mut seeds = Vec::new();
    for part in spec.split(',').map(str::trim) {
        let (from, to) = match part.split_once("..") {
            Some((a, b)) => (number(a)?, number(b.strip_prefix('=').unwrap_or(b))?),
            None => {
                let n = number(part)?;
                (n, n)
            }
        };
        if from > to {
            return Err(format!("`{part}`: the range is empty ({from} > {to})"));
        }
        if to - from >= MAX_SEEDS || seeds.len() as u64 + (to - from) >= MAX_SEEDS {
            return Err(format!("more than {MAX_SEEDS} seeds"));
        }
        seeds.extend(from..=to);
    }
    seeds.sort_unstable();
    seeds.dedup();
    Ok(seeds)
}

fn number(s: &str) -> Result<u64, String> {
    s.trim().parse().map_err(|_| {
        format!(
            "`{}` is not a seed (a number, or a range such as 1..100)",
            pmemvm_abi::shown::Shown(s)
        )
    })
}

/// Sorted seeds written back compactly (`1..3,7`): the campaign's identity
/// names its seeds this way.
pub fn seeds_spec(seeds: &[u64]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < seeds.len() {
        let mut j = i;
        while j + 1 < seeds.len() && seeds[j + 1] == seeds[j] + 1 {
            j += 1;
        }
        parts.push(if j == i {
            seeds[i].to_string()
        } else {
            format!("{}..{}", seeds[i], seeds[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

/// One crash test of the matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    /// Its place in the matrix (variant-major, then persistence, then seed).
    pub index: usize,
    /// The scenario's variant.
    pub variant: String,
    /// `mem-ctrl` or `cpu`.
    pub persistence: String,
    /// The workload's seed.
    pub seed: u64,
}

impl Cell {
    /// `variant/persistence/seed-N`, as reports name the cell.
    pub fn label(&self) -> String {
        format!("{}/{}/seed-{}", self.variant, self.persistence, self.seed)
    }

    /// The cell's directory under the campaign's directory `out`.
    pub fn dir(&self, out: &Path) -> PathBuf {
        out.join("cells")
            .join(&self.variant)
            .join(&self.persistence)
            .join(format!("seed-{}", self.seed))
    }
}

/// Every cell of the matrix, in order.
pub fn cells(variants: &[String], persistence: &[String], seeds: &[u64]) -> Vec<Cell> {
    let mut out = Vec::new();
    for v in variants {
        for p in persistence {
            for &seed in seeds {
                out.push(Cell {
                    index: out.len(),
                    variant: v.clone(),
                    persistence: p.clone(),
                    seed,
                });
            }
        }
    }
    out
}

/// True when `name` can name a directory of the campaign (a variant).
pub fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b))
}

/// Shard K of N (1-based): the cells whose index is K-1 modulo N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which, from 1.
    pub k: usize,
    /// Of how many.
    pub n: usize,
}

impl Shard {
    /// True when the cell of index `index` is this shard's.
    pub fn contains(&self, index: usize) -> bool {
        index % self.n == self.k - 1
    }

    /// The shard a Slurm array task or a Kubernetes Indexed Job's pod is,
    /// from `env`: `SLURM_ARRAY_TASK_ID` (less `SLURM_ARRAY_TASK_MIN`) of
    /// `SLURM_ARRAY_TASK_COUNT`, or `JOB_COMPLETION_INDEX` of
    /// `PMEMVM_SHARDS`.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let num = |name: &str| -> Result<Option<usize>, String> {
            env(name)
                .map(|v| {
                    v.trim()
                        .parse::<usize>()
                        .map_err(|_| format!("{name}={v} is not a number"))
                })
                .transpose()
        };
        let (index, count) = if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
            let count = num("SLURM_ARRAY_TASK_COUNT")?
                .ok_or("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not")?;
            let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            (
                id.checked_sub(min)
                    .ok_or("SLURM_ARRAY_TASK_ID < SLURM_ARRAY_TASK_MIN")?,
                count,
            )
        } else if let Some(i) = num("JOB_COMPLETION_INDEX")? {
            let count = num("PMEMVM_SHARDS")?.ok_or(
                "JOB_COMPLETION_INDEX is set but PMEMVM_SHARDS (the Job's completions) is not",
            )?;
            (i, count)
        } else {
            return Err("neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set".into());
        };
        Shard::new(index + 1, count).map_err(|e| format!("shard {}/{count}: {e}", index + 1))
    }

    fn new(k: usize, n: usize) -> Result<Shard, String> {
        if n == 0 || k == 0 || k > n {
            return Err(format!(
                "K must be between 1 and N (shards count from 1: 1/{n} to {n}/{n})"
            ));
        }
        Ok(Shard { k, n })
    }
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let (k, n) = s
            .split_once('/')
            .ok_or("expected K/N (shard K of N, from 1), or auto")?;
        let parse = |x: &str| {
            x.trim()
                .parse::<usize>()
                .map_err(|_| "expected K/N (shard K of N, from 1), or auto".to_string())
        };
        Shard::new(parse(k)?, parse(n)?)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_parse_as_lists_and_ranges() {
        assert_eq!(parse_seeds("1,5,9..12").unwrap(), [1, 5, 9, 10, 11, 12]);
        assert_eq!(parse_seeds("3..=4,1,3").unwrap(), [1, 3, 4]);
        assert!(parse_seeds("5..1").is_err());
        assert!(parse_seeds("x").is_err());
        assert!(parse_seeds("0..1000000").is_err());
        assert_eq!(seeds_spec(&[1, 2, 3, 7, 9, 10]), "1..3,7,9..10");
    }

    #[test]
    fn shards_split_the_cells_once() {
        let s1: Shard = "1/3".parse().unwrap();
        let s3: Shard = "3/3".parse().unwrap();
        assert!(s1.contains(0) && s1.contains(3) && !s1.contains(2) && s3.contains(2));
        assert!("0/3".parse::<Shard>().is_err() && "4/3".parse::<Shard>().is_err());
        let env = |k: &str| match k {
            "SLURM_ARRAY_TASK_ID" => Some("2".to_string()),
            "SLURM_ARRAY_TASK_COUNT" => Some("3".to_string()),
            _ => None,
        };
        assert_eq!(Shard::from_env(&env).unwrap(), s3);
    }
}
