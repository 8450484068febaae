//! The crash images allowed at the model's current point, and their names.
//!
//! An image is named by an [`ImageSpec`]: `minimal`, `maximal`,
//! `random:SEED`, or the explicit form `units:OFF=SEQ[/NT,NT...];...` (see
//! [`spec`] for the grammar). Every image the functions here return comes
//! with an explicit spec that names it, and [`Model::image`] of that spec
//! gives the same image back.

mod alternatives;
mod explore;
mod image;
mod picks;
mod space;
pub mod spec;

pub use image::Image;
pub use spec::{ImageSpec, UnitChoice};

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The writes in flight at a point, split by whether an image holds them
/// (see [`Model::in_flight`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InFlight {
    /// Sequence numbers of the writes the image holds.
    pub present: Vec<u64>,
    /// Sequence numbers of the writes the image lost.
    pub lost: Vec<u64>,
}

use crate::DeviceError;
use crate::model::{LINE_SIZE, Model, Persistence};

impl Model {
    /// The image named by `spec`. An explicit spec the model does not allow
    /// at this point is an error saying why.
    pub fn image(&self, spec: &ImageSpec) -> Result<Image, DeviceError> {
        let picks = match spec {
            ImageSpec::Minimal => Default::default(),
            ImageSpec::Maximal => self.maximal_picks(),
            ImageSpec::Random(seed) => self.random_picks(*seed),
            ImageSpec::Units(units) => {
                self.validate(units)
                    .map_err(|reason| DeviceError::ImageNotAllowed {
                        spec: spec.to_string(),
                        reason,
                    })?
            }
        };
        Ok(self.build_image(&picks))
    }

    /// Number of distinct images (by content), exact, saturating at
    /// `u128::MAX`, which also stands for "too many to count" (a unit or line
    /// with more than 2^20 partial states, or an eADR space needing more than
    /// 2^22 steps).
    pub fn count_images(&self) -> u128 {
        match self.config().persistence {
            Persistence::Adr => self.count_adr(),
            Persistence::Eadr => self.count_eadr(),
        }
    }

    /// Every distinct image with an explicit spec naming it, or `None` if
    /// there are more than `limit`. Deterministic order.
    pub fn enumerate_images(&self, limit: usize) -> Option<Vec<(ImageSpec, Image)>> {
        if self.count_images() > limit as u128 {
            return None;
        }
        let all = match self.config().persistence {
            Persistence::Adr => self.enumerate_adr(),
            Persistence::Eadr => self.enumerate_eadr()?,
        };
        Some(
            all.into_iter()
                .map(|picks| (self.picks_spec(&picks), self.build_image(&picks)))
                .collect(),
        )
    }

    /// ADR: the distinct contents every unit of every touched line can hold
    /// at this point, by the unit's device offset (the unit's bytes only).
    /// The images are exactly the product of these sets, since units are
    /// independent under ADR; so two models allow the same images if and
    /// only if they give the same sets (on the same touched lines). `None`
    /// under eADR, or when a unit has too many partial states to list.
    pub fn unit_contents(&self) -> Option<BTreeMap<u64, BTreeSet<Vec<u8>>>> {
        if self.config().persistence != Persistence::Adr {
            return None;
        }
        let size = self.unit_size() as usize;
        let mut out = BTreeMap::new();
        for (&li, line) in &self.lines {
            for ui in 0..line.units.len() {
                let offset = self.unit_offset((li, ui));
                let at = offset as usize % LINE_SIZE as usize;
                let contents: BTreeSet<Vec<u8>> = if line.units[ui].has_choice() {
                    self.unit_alts((li, ui))?
                        .iter()
                        .map(|a| a.content[at..at + size].to_vec())
                        .collect()
                } else {
                    BTreeSet::from([line.base.bytes[at..at + size].to_vec()])
                };
                out.insert(offset, contents);
            }
        }
        Some(out)
    }

    /// The writes in flight (above a lower bound, or pending NT writes)
    /// split by whether the image named by `spec` holds them: per unit, the
    /// cached writes up to its chosen instant and the NT writes it lands are
    /// present, the others lost. Sequence numbers, ascending.
    pub fn in_flight(&self, spec: &ImageSpec) -> InFlight {
        let chosen: HashMap<u64, &UnitChoice> = match spec {
            ImageSpec::Units(units) => units.iter().map(|c| (c.offset, c)).collect(),
            _ => return self.in_flight(&self.resolve(spec)),
        };
        let mut out = InFlight::default();
        for r in self.choice_units() {
            let Some(u) = self.unit(r) else { continue };
            let choice = chosen.get(&self.unit_offset(r));
            let upto = choice.map_or(u.lb_seq, |c| c.upto);
            for seq in u.hist.iter().map(|w| w.seq) {
                if seq > upto {
                    &mut out.lost
                } else {
                    &mut out.present
                }
                .push(seq);
            }
            for seq in u.nt.iter().map(|n| n.write.seq) {
                if choice.is_some_and(|c| c.nt.contains(&seq)) {
                    &mut out.present
                } else {
                    &mut out.lost
                }
                .push(seq);
            }
        }
        out.present.sort_unstable();
        out.lost.sort_unstable();
        out
    }

    /// Resolves `Random(seed)` deterministically into the explicit spec of the same image.
    pub fn random_spec(&self, seed: u64) -> ImageSpec {
        self.picks_spec(&self.random_picks(seed))
    }

    /// The explicit spec of `minimal`, `maximal` or `random:SEED` (an explicit spec is returned as is).
    pub fn resolve(&self, spec: &ImageSpec) -> ImageSpec {
        match spec {
            ImageSpec::Minimal => ImageSpec::Units(Vec::new()),
            ImageSpec::Maximal => self.picks_spec(&self.maximal_picks()),
            ImageSpec::Random(seed) => self.random_spec(*seed),
            ImageSpec::Units(_) => spec.clone(),
        }
    }
}
