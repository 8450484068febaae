//! The space of allowed images: exact distinct counts and enumeration.
//!
//! * ADR: units are independent and disjoint, so the distinct images are the
//!   product of each unit's distinct contents ([`alternatives`]).
//! * eADR: one cut of the cached writes after the last drain point, and per
//!   line a subset of its allowed NT writes. For each cut the images are the
//!   product of the lines' distinct contents at that cut; images of
//!   different cuts may coincide, so they are deduplicated by a 128-bit sum
//!   of per-(line, content) terms (contents are interned exactly, terms are
//!   pseudo-random). Lines whose contents do not depend on the cut (pending
//!   NT writes, no cached write after the drain point) are factored out.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::alternatives::{Alt, Role, alternatives, count_alternatives};
use super::picks::{Pick, Picks};
use crate::model::{Line, Model, UnitRef, Write};

/// Most partial states explored for one unit or line.
pub(crate) const STATE_BUDGET: usize = 1 << 20;
/// Most (cut, choice) combinations visited under eADR.
pub(crate) const WALK_BUDGET: u64 = 1 << 22;

/// splitmix64 step: the PRNG and mixer of this module.
pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn term(id: u64) -> u128 {
    let mut a = id ^ 0x5851_f42d_4c95_7f2d;
    let mut b = id ^ 0x1405_7b7e_f767_814f;
    (u128::from(splitmix64(&mut a)) << 64) | u128::from(splitmix64(&mut b))
}

/// Interns (line, content) pairs.
#[derive(Default)]
struct Interner(HashMap<(u64, [u8; 64]), u64>);

impl Interner {
    fn term(&mut self, li: u64, content: &[u8; 64]) -> u128 {
        let next = self.0.len() as u64;
        term(*self.0.entry((li, *content)).or_insert(next))
    }
}

/// The current alternatives of one line during the eADR walk.
struct LineAlts {
    alts: Vec<Alt>,
    terms: Vec<u128>,
}

/// What [`Model::eadr_walk`] calls for each combination: the cut, the chosen
/// alternatives of the lines with more than one, the image's hash; false stops.
pub(crate) type Visit<'a> = dyn FnMut(u64, &[(u64, &Alt)], u128) -> bool + 'a;

/// The walk stopped: too much work.
pub(crate) struct TooMany;

impl Model {
    /// ADR: the writes of one unit with their roles, in sequence order.
    fn unit_items(&self, r: UnitRef) -> Option<(&Line, Vec<(&Write, Role)>)> {
        let u = self.unit(r)?;
        let mut items: Vec<(&Write, Role)> = u
            .hist
            .iter()
            .map(|w| (w, Role::Chain))
            .chain(u.nt.iter().map(|n| (&n.write, Role::Free)))
            .collect();
        items.sort_unstable_by_key(|(w, _)| w.seq);
        Some((self.lines.get(&r.0)?, items))
    }

    /// ADR: the distinct contents of one unit.
    pub(crate) fn unit_alts(&self, r: UnitRef) -> Option<Vec<Alt>> {
        let (line, items) = self.unit_items(r)?;
        alternatives(&line.base, &items, STATE_BUDGET)
    }

    /// ADR: the pick of an alternative of unit `r`.
    pub(crate) fn alt_pick(&self, r: UnitRef, alt: &Alt) -> Pick {
        let lb = self.unit(r).map_or(0, |u| u.lb_seq);
        Pick {
            upto: alt.upto.unwrap_or(lb),
            nt: alt.free.clone(),
        }
    }

    /// ADR: exact distinct count (saturating; `u128::MAX` when a unit is too
    /// complex to count).
    pub(crate) fn count_adr(&self) -> u128 {
        let mut n: u128 = 1;
        for r in self.choice_units() {
            let count = self
                .unit_items(r)
                .and_then(|(line, items)| count_alternatives(&line.base, &items, STATE_BUDGET));
            match count {
                Some(c) => n = n.saturating_mul(c),
                None => return u128::MAX,
            }
        }
        n
    }

    /// ADR: every distinct image's picks (the caller checked the count).
    pub(crate) fn enumerate_adr(&self) -> Vec<Picks> {
        let mut varying: Vec<(UnitRef, Vec<Alt>)> = Vec::new();
        for r in self.choice_units() {
            if let Some(alts) = self.unit_alts(r).filter(|a| a.len() > 1) {
                varying.push((r, alts));
            }
        }
        let mut out = Vec::new();
        let mut digits = vec![0usize; varying.len()];
        loop {
            let picks: Picks = varying
                .iter()
                .zip(&digits)
                .filter(|(_, d)| **d > 0)
                .map(|((r, alts), d)| (*r, self.alt_pick(*r, &alts[*d])))
                .collect();
            out.push(picks);
            if !odometer(&mut digits, |i| varying[i].1.len()) {
                return out;
            }
        }
    }

    /// eADR: the distinct contents of line `li` when the cached writes with
    /// sequence number <= `cut` are present.
    fn line_alts_at(&self, line: &Line, cut: u64) -> Option<Vec<Alt>> {
        alternatives(&line.base, &Self::line_items_at(line, cut), STATE_BUDGET)
    }

    /// eADR: the writes of line `line` at a cut, with their roles.
    fn line_items_at(line: &Line, cut: u64) -> Vec<(&Write, Role)> {
        let mut items: Vec<(&Write, Role)> = Vec::new();
        for u in &line.units {
            items.extend(
                u.hist
                    .iter()
                    .take_while(|w| w.seq <= cut)
                    .map(|w| (w, Role::Forced)),
            );
            items.extend(
                u.nt.iter()
                    .filter(|n| n.req <= cut)
                    .map(|n| (&n.write, Role::Free)),
            );
        }
        items.sort_unstable_by_key(|(w, _)| w.seq);
        items
    }

    /// eADR: visits, for every cut, every combination of the lines'
    /// alternatives, with the hash of the image (equal images, equal
    /// hashes). `visit` gets the cut, the alternatives of the lines with
    /// more than one, and the hash; it returns false to stop. With
    /// `factor_const`, lines whose alternatives do not depend on the cut are
    /// left out and the product of their counts is returned.
    pub(crate) fn eadr_walk(
        &self,
        factor_const: bool,
        visit: &mut Visit<'_>,
    ) -> Result<u128, TooMany> {
        let mut interner = Interner::default();
        let mut factor: u128 = 1;
        let mut cur: BTreeMap<u64, LineAlts> = BTreeMap::new();
        let cut0 = self.last_drain;
        for (&li, line) in &self.lines {
            let has_hist = line.units.iter().any(|u| !u.hist.is_empty());
            let has_nt = line.units.iter().any(|u| !u.nt.is_empty());
            if !has_hist && !has_nt {
                continue;
            }
            if factor_const && !has_hist {
                let items = Self::line_items_at(line, cut0);
                let count = count_alternatives(&line.base, &items, STATE_BUDGET).ok_or(TooMany)?;
                factor = factor.saturating_mul(count);
                continue;
            }
            let alts = self.line_alts_at(line, cut0).ok_or(TooMany)?;
            let terms = alts.iter().map(|a| interner.term(li, &a.content)).collect();
            cur.insert(li, LineAlts { alts, terms });
        }
        let mut single: u128 = cur
            .values()
            .filter(|l| l.terms.len() == 1)
            .fold(0u128, |s, l| s.wrapping_add(l.terms[0]));
        let mut multi: BTreeSet<u64> = cur
            .iter()
            .filter(|(_, l)| l.terms.len() > 1)
            .map(|(&li, _)| li)
            .collect();
        let mut work: u64 = 0;
        let posts = self.post_drain_writes();
        for step in 0..=posts.len() {
            let cut = if step == 0 {
                cut0
            } else {
                posts[step - 1].1.seq
            };
            if step > 0 {
                let (li, write) = posts[step - 1];
                let Some(line) = self.lines.get(&li) else {
                    continue;
                };
                let Some(entry) = cur.get_mut(&li) else {
                    continue;
                };
                if entry.terms.len() == 1 {
                    single = single.wrapping_sub(entry.terms[0]);
                } else {
                    multi.remove(&li);
                }
                let has_nt = line.units.iter().any(|u| !u.nt.is_empty());
                if has_nt {
                    entry.alts = self.line_alts_at(line, cut).ok_or(TooMany)?;
                } else {
                    // One content: lay the new write over it.
                    line.base.overlay(&mut entry.alts[0].content, write);
                }
                entry.terms = entry
                    .alts
                    .iter()
                    .map(|a| interner.term(li, &a.content))
                    .collect();
                if entry.terms.len() == 1 {
                    single = single.wrapping_add(entry.terms[0]);
                } else {
                    multi.insert(li);
                }
            }
            let varying: Vec<(u64, &LineAlts)> = multi
                .iter()
                .filter_map(|li| cur.get(li).map(|l| (*li, l)))
                .collect();
            let mut digits = vec![0usize; varying.len()];
            let mut chosen: Vec<(u64, &Alt)> = Vec::with_capacity(varying.len());
            loop {
                work += 1;
                if work > WALK_BUDGET {
                    return Err(TooMany);
                }
                chosen.clear();
                let mut hash = single;
                for ((li, l), &d) in varying.iter().zip(&digits) {
                    hash = hash.wrapping_add(l.terms[d]);
                    chosen.push((*li, &l.alts[d]));
                }
                if !visit(cut, &chosen, hash) {
                    return Ok(factor);
                }
                if !odometer(&mut digits, |i| varying[i].1.alts.len()) {
                    break;
                }
            }
        }
        Ok(factor)
    }

    /// eADR: exact distinct count (saturating; `u128::MAX` when too many to walk).
    pub(crate) fn count_eadr(&self) -> u128 {
        let mut seen: HashSet<u128> = HashSet::new();
        match self.eadr_walk(true, &mut |_, _, h| {
            seen.insert(h);
            true
        }) {
            Ok(factor) => factor.saturating_mul(seen.len() as u128),
            Err(TooMany) => u128::MAX,
        }
    }

    /// eADR: the picks of every distinct image (the caller checked the count).
    pub(crate) fn enumerate_eadr(&self) -> Option<Vec<Picks>> {
        let mut seen: HashSet<u128> = HashSet::new();
        let mut out = Vec::new();
        self.eadr_walk(false, &mut |cut, chosen, h| {
            if seen.insert(h) {
                out.push(self.cut_picks(cut, |r, seq| {
                    chosen
                        .iter()
                        .any(|(li, alt)| *li == r.0 && alt.free.contains(&seq))
                }));
            }
            true
        })
        .ok()?;
        Some(out)
    }
}

/// Advances mixed-radix `digits` (radix of digit i is `radix(i)`); false when it wraps.
pub(crate) fn odometer(digits: &mut [usize], radix: impl Fn(usize) -> usize) -> bool {
    for (i, d) in digits.iter_mut().enumerate() {
        *d += 1;
        if *d < radix(i) {
            return true;
        }
        *d = 0;
    }
    false
}
