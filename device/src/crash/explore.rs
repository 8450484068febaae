//! Seeded random images and the small neighbourhoods the crash tester tries.

use std::collections::HashSet;

use super::picks::{Pick, Picks};
use super::space::splitmix64;
use super::{Image, ImageSpec};
use crate::model::{Model, Persistence, UnitRef};

impl Model {
    /// The picks of `Random(seed)`: under ADR each unit takes a uniform
    /// instant and each pending NT write lands with probability 1/2; under
    /// eADR a uniform cut, then each allowed NT write with probability 1/2.
    pub(crate) fn random_picks(&self, seed: u64) -> Picks {
        let mut state = seed;
        let mut next = move || splitmix64(&mut state);
        match self.config().persistence {
            Persistence::Adr => {
                let mut picks = Picks::new();
                for r in self.choice_units() {
                    let Some(u) = self.unit(r) else { continue };
                    let k = (next() % (u.hist.len() as u64 + 1)) as usize;
                    let upto = if k == 0 { u.lb_seq } else { u.hist[k - 1].seq };
                    let nt: Vec<u64> =
                        u.nt.iter()
                            .filter(|_| next() & 1 == 1)
                            .map(|n| n.write.seq)
                            .collect();
                    if upto != u.lb_seq || !nt.is_empty() {
                        picks.insert(r, Pick { upto, nt });
                    }
                }
                picks
            }
            Persistence::Eadr => {
                let posts = self.post_drain_writes();
                let k = (next() % (posts.len() as u64 + 1)) as usize;
                let cut = if k == 0 {
                    self.last_drain
                } else {
                    posts[k - 1].1.seq
                };
                self.cut_picks(cut, |_, _| next() & 1 == 1)
            }
        }
    }

    /// Picks with every unit of `set` changed from `from`: dropped to its
    /// minimal state (`raise` false) or raised to its maximal state.
    fn changed(&self, from: &Picks, set: &[UnitRef], raise: bool) -> Picks {
        let mut picks = from.clone();
        for r in set {
            if raise {
                if let Some(u) = self.unit(*r) {
                    picks.insert(
                        *r,
                        Pick {
                            upto: u.latest_seq(),
                            nt: u.nt.iter().map(|n| n.write.seq).collect(),
                        },
                    );
                }
            } else {
                picks.remove(r);
            }
        }
        picks
    }

    /// The images near the extremes, deduplicated by content, at most `limit`:
    ///
    /// * ADR: every image in which at most `k` units differ from the maximal
    ///   image (each dropped to its lower bound without NT writes), then every
    ///   one in which at most `k` units differ from the minimal image (each
    ///   raised to its latest write with every pending NT write); by
    ///   increasing number of changed units.
    /// * eADR: the `k + 1` cuts nearest the last drain point (0 to `k` cached
    ///   writes after it), each without and with every allowed NT write, then
    ///   the maximal image.
    pub fn subsets(&self, k: usize, limit: usize) -> Vec<(ImageSpec, Image)> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut add = |picks: Picks, out: &mut Vec<(ImageSpec, Image)>| {
            if out.len() >= limit {
                return false;
            }
            let image = self.build_image(&picks);
            if seen.insert(image.hash()) {
                out.push((self.picks_spec(&picks), image));
            }
            out.len() < limit
        };
        match self.config().persistence {
            Persistence::Adr => {
                let units = self.choice_units();
                let maximal = self.maximal_picks();
                for (from, raise) in [(&maximal, false), (&Picks::new(), true)] {
                    for size in 0..=k.min(units.len()) {
                        let mut combo: Vec<usize> = (0..size).collect();
                        loop {
                            let set: Vec<UnitRef> = combo.iter().map(|&i| units[i]).collect();
                            if !add(self.changed(from, &set, raise), &mut out) {
                                return out;
                            }
                            if !next_combination(&mut combo, units.len()) {
                                break;
                            }
                        }
                    }
                }
            }
            Persistence::Eadr => {
                let posts = self.post_drain_writes();
                for step in 0..=k.min(posts.len()) {
                    let cut = if step == 0 {
                        self.last_drain
                    } else {
                        posts[step - 1].1.seq
                    };
                    for all_nt in [false, true] {
                        if !add(self.cut_picks(cut, |_, _| all_nt), &mut out) {
                            return out;
                        }
                    }
                }
                add(self.maximal_picks(), &mut out);
            }
        }
        out
    }

    /// `n` seeded random images (the `i`-th from the `i`-th output of a
    /// splitmix64 stream seeded with `seed`), deduplicated by content.
    pub fn sample(&self, n: usize, seed: u64) -> Vec<(ImageSpec, Image)> {
        let mut state = seed;
        let mut seen = HashSet::new();
        let mut picked = HashSet::new();
        let mut out = Vec::new();
        for _ in 0..n {
            let picks = self.random_picks(splitmix64(&mut state));
            // The same choices make the same image: skip building it again.
            if picked.contains(&picks) {
                continue;
            }
            let image = self.build_image(&picks);
            if seen.insert(image.hash()) {
                out.push((self.picks_spec(&picks), image));
            }
            picked.insert(picks);
        }
        out
    }
}

/// Next `combo.len()`-subset of `0..n` in lexicographic order; false after the last.
fn next_combination(combo: &mut [usize], n: usize) -> bool {
    let k = combo.len();
    for i in (0..k).rev() {
        if combo[i] < n - k + i {
            combo[i] += 1;
            for j in i + 1..k {
                combo[j] = combo[j - 1] + 1;
            }
            return true;
        }
    }
    false
}
