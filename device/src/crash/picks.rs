//! Resolved image choices: per unit, the last present cached write and the
//! landed NT writes; validation of explicit specs; building images.

use std::collections::BTreeMap;

use super::{Image, ImageSpec, UnitChoice};
use crate::model::{LINE_SIZE, Line, Model, Persistence, Unit, UnitRef, Write};

/// What one unit takes in an image.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub(crate) struct Pick {
    /// Sequence number of the last present cached write (the unit's lower
    /// bound sequence number = none above it).
    pub upto: u64,
    /// Present pending NT writes, ascending.
    pub nt: Vec<u64>,
}

/// Picks of the units that do not take their minimal state.
pub(crate) type Picks = BTreeMap<UnitRef, Pick>;

impl Model {
    pub(crate) fn unit(&self, (li, ui): UnitRef) -> Option<&Unit> {
        self.lines.get(&li).and_then(|l| l.units.get(ui))
    }

    /// Units with a choice (writes above the lower bound or pending NT
    /// writes), in address order.
    pub(crate) fn choice_units(&self) -> Vec<UnitRef> {
        let mut v = Vec::new();
        for li in self.sorted_line_indices() {
            if let Some(line) = self.lines.get(&li) {
                for (ui, u) in line.units.iter().enumerate() {
                    if u.has_choice() {
                        v.push((li, ui));
                    }
                }
            }
        }
        v
    }

    pub(crate) fn unit_offset(&self, (li, ui): UnitRef) -> u64 {
        li * LINE_SIZE + ui as u64 * self.unit_size()
    }

    /// Every unit at its latest write with every pending NT write.
    pub(crate) fn maximal_picks(&self) -> Picks {
        self.choice_units()
            .into_iter()
            .filter_map(|r| {
                let u = self.unit(r)?;
                let pick = Pick {
                    upto: u.latest_seq(),
                    nt: u.nt.iter().map(|n| n.write.seq).collect(),
                };
                Some((r, pick))
            })
            .collect()
    }

    /// eADR: the cached writes after the last drain point with their line
    /// index, in program order.
    pub(crate) fn post_drain_writes(&self) -> Vec<(u64, &Write)> {
        let mut v: Vec<(u64, &Write)> = self
            .lines
            .iter()
            .flat_map(|(&li, l)| {
                l.units
                    .iter()
                    .flat_map(move |u| u.hist.iter().map(move |w| (li, w)))
            })
            .collect();
        v.sort_unstable_by_key(|(_, w)| w.seq);
        v
    }

    /// eADR: the picks of the cut "every cached write with sequence number
    /// <= `cut` is present", with the NT writes chosen by `nt_present`.
    pub(crate) fn cut_picks(
        &self,
        cut: u64,
        mut nt_present: impl FnMut(UnitRef, u64) -> bool,
    ) -> Picks {
        let mut picks = Picks::new();
        for r in self.choice_units() {
            let Some(u) = self.unit(r) else { continue };
            let upto = u
                .hist
                .iter()
                .take_while(|w| w.seq <= cut)
                .last()
                .map_or(u.lb_seq, |w| w.seq);
            let nt: Vec<u64> =
                u.nt.iter()
                    .filter(|n| n.req <= cut && nt_present(r, n.write.seq))
                    .map(|n| n.write.seq)
                    .collect();
            if upto != u.lb_seq || !nt.is_empty() {
                picks.insert(r, Pick { upto, nt });
            }
        }
        picks
    }

    /// The explicit spec naming `picks` (units in their minimal state omitted).
    pub(crate) fn picks_spec(&self, picks: &Picks) -> ImageSpec {
        ImageSpec::Units(
            picks
                .iter()
                .filter(|(r, p)| {
                    self.unit(**r)
                        .is_some_and(|u| p.upto != u.lb_seq || !p.nt.is_empty())
                })
                .map(|(&r, p)| UnitChoice {
                    offset: self.unit_offset(r),
                    upto: p.upto,
                    nt: p.nt.clone(),
                })
                .collect(),
        )
    }

    /// Builds the image of `picks` (rule 8: per byte the latest present write).
    pub(crate) fn build_image(&self, picks: &Picks) -> Image {
        let mut lines = BTreeMap::new();
        let mut writes: Vec<&Write> = Vec::new();
        for (&li, line) in &self.lines {
            let mut content = line.base.bytes;
            for (ui, unit) in line.units.iter().enumerate() {
                if let Some(pick) = picks.get(&(li, ui)) {
                    let nt = |seq| pick.nt.contains(&seq);
                    overlay_unit(line, unit, pick.upto, nt, &mut writes, &mut content);
                }
            }
            lines.insert(li * LINE_SIZE, content);
        }
        Image { lines }
    }

    /// The latest content of the line holding `line_offset`, as the guest
    /// reads it: every write of the run so far (per byte the one with the
    /// highest sequence number, as in the maximal image), or `None` when
    /// the line was not touched (its content is the initial media).
    pub fn latest_line(&self, line_offset: u64) -> Option<[u8; 64]> {
        let line = self.lines.get(&(line_offset / LINE_SIZE))?;
        let mut content = line.base.bytes;
        let mut writes = Vec::new();
        for unit in &line.units {
            let upto = unit.latest_seq();
            overlay_unit(line, unit, upto, |_| true, &mut writes, &mut content);
        }
        Some(content)
    }

    /// Checks an explicit spec against the rules at this point.
    pub(crate) fn validate(&self, units: &[UnitChoice]) -> Result<Picks, String> {
        let unit_size = self.unit_size();
        let mut picks = Picks::new();
        for c in units {
            if c.offset % unit_size != 0 {
                return Err(format!(
                    "{:#x} is not the offset of a {unit_size}-byte unit",
                    c.offset
                ));
            }
            let r = (
                c.offset / LINE_SIZE,
                ((c.offset % LINE_SIZE) / unit_size) as usize,
            );
            let u = self
                .unit(r)
                .ok_or_else(|| format!("unit {:#x} was not touched by the run", c.offset))?;
            if c.upto != u.lb_seq && !u.hist.iter().any(|w| w.seq == c.upto) {
                return Err(match u.hist.front() {
                    _ if c.upto < u.lb_seq => format!(
                        "unit {:#x}: {} is below its lower bound (write {} is certainly persistent)",
                        c.offset, c.upto, u.lb_seq
                    ),
                    None => format!(
                        "unit {:#x}: {} is not its lower bound {} (it has no uncertain cached write)",
                        c.offset, c.upto, u.lb_seq
                    ),
                    Some(_) => format!(
                        "unit {:#x}: {} is neither its lower bound {} nor one of its cached writes above it ({})",
                        c.offset,
                        c.upto,
                        u.lb_seq,
                        u.hist
                            .iter()
                            .map(|w| w.seq.to_string())
                            .collect::<Vec<_>>()
                            .join(",")
                    ),
                });
            }
            let mut nt = c.nt.clone();
            nt.sort_unstable();
            if nt.windows(2).any(|p| p[0] == p[1]) {
                return Err(format!("unit {:#x}: an NT write is named twice", c.offset));
            }
            if let Some(bad) = nt.iter().find(|s| !u.nt.iter().any(|n| n.write.seq == **s)) {
                return Err(format!(
                    "unit {:#x}: {bad} is not one of its pending NT writes",
                    c.offset
                ));
            }
            if picks.insert(r, Pick { upto: c.upto, nt }).is_some() {
                return Err(format!("unit {:#x} is named twice", c.offset));
            }
        }
        if self.config().persistence == Persistence::Eadr {
            self.validate_cut(&picks)?;
        }
        Ok(picks)
    }

    /// eADR: the present cached writes must be a program-order prefix, and a
    /// present NT write needs every older cached write to its line present.
    fn validate_cut(&self, picks: &Picks) -> Result<(), String> {
        let cut = picks
            .values()
            .map(|p| p.upto)
            .fold(self.last_drain, u64::max);
        for r in self.choice_units() {
            let Some(u) = self.unit(r) else { continue };
            let chosen = picks.get(&r).map_or(u.lb_seq, |p| p.upto);
            if let Some(w) = u.hist.iter().find(|w| w.seq <= cut && w.seq > chosen) {
                return Err(format!(
                    "not a cut of program order: write {} is present but the older write {} to unit {:#x} is not",
                    cut,
                    w.seq,
                    self.unit_offset(r)
                ));
            }
        }
        for (&r, p) in picks {
            let Some(u) = self.unit(r) else { continue };
            for n in u.nt.iter().filter(|n| p.nt.contains(&n.write.seq)) {
                if n.req > cut {
                    return Err(format!(
                        "NT write {} to unit {:#x} is present but the older cached write {} to its line is not",
                        n.write.seq,
                        self.unit_offset(r),
                        n.req
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Lays over `content` (which starts as `line`'s base) the writes of `unit`
/// an image holds: its cached writes up to sequence number `upto` and the
/// NT writes `nt` keeps, in sequence order (rule 8). `writes` is scratch.
fn overlay_unit<'a>(
    line: &Line,
    unit: &'a Unit,
    upto: u64,
    nt: impl Fn(u64) -> bool,
    writes: &mut Vec<&'a Write>,
    content: &mut [u8; 64],
) {
    writes.clear();
    writes.extend(unit.hist.iter().take_while(|w| w.seq <= upto));
    writes.extend(unit.nt.iter().filter(|n| nt(n.write.seq)).map(|n| &n.write));
    writes.sort_unstable_by_key(|w| w.seq);
    for w in writes.iter() {
        line.base.overlay(content, w);
    }
}
