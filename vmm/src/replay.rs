//! Feeding trace events to the persistency model: the one place that says
//! what each event does to it, used live while recording and offline on a
//! trace file.

use crate::error::VmmError;
use crate::promise_check::PromiseChecker;
use crate::verify_input::VerifyInput;
use pmemvm_device::model::{FenceKind, FlushKind, Model, ModelConfig};
use pmemvm_traces::{
    CrashPoint, Event, EventKind, Header, Instants, PointResolver, TraceError, TraceReader,
};
use std::path::Path;

/// The model configuration a trace header describes.
pub fn model_config(header: &Header) -> ModelConfig {
    ModelConfig {
        size: header.device.size,
        persistence: header.persistence,
        atomicity: header.atomicity,
    }
}

/// Applies one event to the model.
pub fn apply(model: &mut Model, ev: &Event) -> Result<(), VmmError> {
    let seq = ev.seq;
    if let Some(w) = ev.kind.write()
        && let Some(init) = &w.init
    {
        model.init_line(w.line(), **init);
    }
    match &ev.kind {
        EventKind::Store(w) => model.store(seq, w.offset, &w.data)?,
        EventKind::NtStore(w) => model.ntstore(seq, w.offset, &w.data)?,
        EventKind::Rmw(w) => model.rmw(seq, w.offset, &w.data)?,
        EventKind::Clwb(f) => model.flush(seq, FlushKind::Clwb, f.offset)?,
        EventKind::ClflushOpt(f) => model.flush(seq, FlushKind::Clflushopt, f.offset)?,
        EventKind::Clflush(f) => model.flush(seq, FlushKind::Clflush, f.offset)?,
        EventKind::Sfence => model.fence(seq, FenceKind::Sfence),
        EventKind::Mfence => model.fence(seq, FenceKind::Mfence),
        // The drain points not handled above: the port I/O instructions.
        kind if kind.is_drain_point() => model.drain(seq),
        _ => {}
    }
    Ok(())
}

/// A trace replayed up to a crash point.
pub struct Replayed {
    /// The trace's header.
    pub header: Header,
    /// The model just after the point.
    pub model: Model,
    /// The seq just after which the point lies (0: before any event).
    pub seq: u64,
    /// What verify mode needs: the last operation started and the promises made.
    pub verify: VerifyInput,
    /// The promises made before the point, byte by byte, for pmemvm's own check.
    pub promises: PromiseChecker,
}

/// Replays the trace at `path` up to `point`, reading it as a stream.
pub fn replay_to(path: &Path, point: &CrashPoint) -> Result<Replayed, VmmError> {
    let mut reader = TraceReader::open(path)?;
    let header = reader.header().clone();
    let mut model = Model::new(model_config(&header));
    let mut resolver = PointResolver::new(point.clone());
    let mut verify = VerifyInput::default();
    let mut promises = PromiseChecker::default();
    let instants = Instants::new(header.recording, header.persistence);
    // The last event applied, and the last instant before it.
    let mut last: Option<Event> = None;
    let mut last_instant = 0;
    if resolver.reached().is_none() {
        while let Some(ev) = reader.next_event()? {
            if matches!(ev.kind, EventKind::PowerFail(_)) {
                break;
            }
            if instants.restricted() {
                if instants.is_instant(last.as_ref(), Some(&ev)) {
                    last_instant = ev.seq - 1;
                }
                last = Some(ev.clone());
            }
            apply(&mut model, &ev).map_err(|e| VmmError::BadTrace {
                at: reader.last_location().to_string(),
                reason: e.to_string(),
            })?;
            verify.note(&ev);
            promises.observe(&ev, &model);
            if resolver.observe(&ev) {
                break;
            }
        }
    }
    let seq = resolver.finish()?;
    if instants.restricted() && seq > 0 {
        let not_power_fail = |e: Event| (!matches!(e.kind, EventKind::PowerFail(_))).then_some(e);
        let mut next = reader.next_event()?.and_then(not_power_fail);
        if !instants.is_instant(last.as_ref(), next.as_ref()) {
            // The next instant: the first point after `seq` that is one.
            let mut after = seq;
            while let Some(ev) = next {
                after = ev.seq;
                next = reader.next_event()?.and_then(not_power_fail);
                if instants.is_instant(Some(&ev), next.as_ref()) {
                    break;
                }
            }
            return Err(TraceError::PointInsideEpoch {
                point: point.to_string(),
                seq,
                before: last_instant,
                after,
            }
            .into());
        }
    }
    verify.note_written(&model);
    Ok(Replayed {
        header,
        model,
        seq,
        verify,
        promises,
    })
}
