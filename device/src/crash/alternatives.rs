//! The distinct contents one unit (ADR) or one line (eADR, at a fixed cut)
//! can take, each with a representative choice.
//!
//! The writes are processed in sequence order over the base. A *forced*
//! write is always present; *chain* writes (a unit's cached history above
//! its lower bound) are present as a prefix; *free* writes (pending NT
//! writes) each independently. States that reach the same content (and the
//! same chain status) have the same futures and are merged, so the work is
//! proportional to the number of distinct partial contents, not to the
//! number of choices.

use std::collections::HashMap;

use crate::model::{Base, Write};

/// How a write may be present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// Always present.
    Forced,
    /// Present as a prefix of all chain writes.
    Chain,
    /// Present or not, independently.
    Free,
}

/// One distinct content and the smallest choice that gives it.
#[derive(Clone, Debug)]
pub(crate) struct Alt {
    /// The content (of the whole line; only the bytes of the writes vary).
    pub content: [u8; 64],
    /// Sequence number of the last present chain write (`None` = no chain write).
    pub upto: Option<u64>,
    /// Present free writes, ascending.
    pub free: Vec<u64>,
}

impl Alt {
    fn key(&self) -> (u64, usize, &[u64]) {
        (self.upto.unwrap_or(0), self.free.len(), &self.free)
    }
}

/// A set of states, one per content (the one with the smallest choice).
#[derive(Default)]
struct States {
    list: Vec<Alt>,
    index: HashMap<[u8; 64], usize>,
}

impl States {
    fn from(list: Vec<Alt>) -> States {
        let mut s = States::default();
        for a in list {
            s.insert(a);
        }
        s
    }

    fn insert(&mut self, a: Alt) {
        match self.index.get(&a.content) {
            Some(&i) => {
                if a.key() < self.list[i].key() {
                    self.list[i] = a;
                }
            }
            None => {
                self.index.insert(a.content, self.list.len());
                self.list.push(a);
            }
        }
    }

    fn len(&self) -> usize {
        self.list.len()
    }

    fn take(&mut self) -> Vec<Alt> {
        self.index.clear();
        std::mem::take(&mut self.list)
    }
}

/// The distinct contents of `items` (sorted by sequence number) over `base`,
/// sorted by their representative choice (fewest writes first), or `None`
/// when more than `budget` partial states would be needed.
pub(crate) fn alternatives(
    base: &Base,
    items: &[(&Write, Role)],
    budget: usize,
) -> Option<Vec<Alt>> {
    let start = Alt {
        content: base.bytes,
        upto: None,
        free: Vec::new(),
    };
    // `alive`: every chain write so far is present; `dead`: the chain
    // stopped; `done`: stopped, and no free write is left to change it.
    let mut alive = States::from(vec![start]);
    let mut dead = States::default();
    let mut done = States::default();
    let mut free_left = vec![false; items.len() + 1];
    for i in (0..items.len()).rev() {
        free_left[i] = free_left[i + 1] || items[i].1 == Role::Free;
    }
    for (i, &(w, role)) in items.iter().enumerate() {
        let apply = |s: &Alt| {
            let mut n = s.clone();
            base.overlay(&mut n.content, w);
            n
        };
        match role {
            Role::Forced => {
                for set in [&mut alive, &mut dead] {
                    let list = set.take();
                    *set = States::from(list.iter().map(apply).collect());
                }
            }
            Role::Chain => {
                let stopped = alive.take();
                for s in &stopped {
                    let mut n = apply(s);
                    n.upto = Some(w.seq);
                    alive.insert(n);
                }
                for s in stopped {
                    dead.insert(s);
                }
            }
            Role::Free => {
                for set in [&mut alive, &mut dead] {
                    let list = set.take();
                    let with: Vec<Alt> = list
                        .iter()
                        .map(|s| {
                            let mut n = apply(s);
                            n.free.push(w.seq);
                            n
                        })
                        .collect();
                    *set = States::from(list);
                    for n in with {
                        set.insert(n);
                    }
                }
            }
        }
        if !free_left[i + 1] {
            // Nothing can change a stopped chain any more.
            for s in dead.take() {
                done.insert(s);
            }
        }
        if alive.len() + dead.len() + done.len() > budget {
            return None;
        }
    }
    for s in alive.take().into_iter().chain(dead.take()) {
        done.insert(s);
    }
    let mut out = done.take();
    out.sort_by(|a, b| a.key().cmp(&b.key()));
    Some(out)
}

/// The number of distinct contents of `items` (as for [`alternatives`]),
/// computed per group of writes that share bytes (all chain writes form one
/// group): groups cover disjoint bytes and are chosen independently, so the
/// distinct contents multiply. `None` when a group needs more than `budget`
/// partial states. Saturating.
pub(crate) fn count_alternatives(
    base: &Base,
    items: &[(&Write, Role)],
    budget: usize,
) -> Option<u128> {
    let n = items.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let union = |parent: &mut Vec<usize>, a: usize, b: usize| {
        let (ra, rb) = (find(parent, a), find(parent, b));
        if ra != rb {
            parent[ra] = rb;
        }
    };
    // Per byte, the last write seen that covers it: writes sharing a byte join.
    let mut owner: [Option<usize>; 64] = [None; 64];
    let mut chain: Option<usize> = None;
    for (i, (w, role)) in items.iter().enumerate() {
        for b in w.range() {
            if let Some(j) = owner[b] {
                union(&mut parent, i, j);
            }
            owner[b] = Some(i);
        }
        if *role == Role::Chain {
            if let Some(c) = chain {
                union(&mut parent, i, c);
            }
            chain = Some(i);
        }
    }
    let mut groups: std::collections::BTreeMap<usize, Vec<(&Write, Role)>> = Default::default();
    for (i, item) in items.iter().enumerate() {
        let root = find(&mut parent, i);
        groups.entry(root).or_default().push(*item);
    }
    let mut count: u128 = 1;
    for group in groups.values() {
        let alts = alternatives(base, group, budget)?;
        count = count.saturating_mul(alts.len() as u128);
    }
    Some(count)
}
