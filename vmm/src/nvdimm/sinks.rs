//! Where a recording's events go: the trace file, the stream to a crash
//! test, and the power cut (the only place the persistency model runs
//! while recording: it resolves the crash point and the image the media
//! holds after the failure).

use super::Flow;
use crate::error::VmmError;
use crate::replay;
use crate::run_kind::{PowerCut, RecordingStream, RunKind, Streamed};
use pmemvm_device::media::SharedMedia;
use pmemvm_device::model::{Model, ModelConfig};
use pmemvm_traces::{CrashPoint, Event, EventKind, Header, PointResolver, PowerFail, TraceWriter};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::SyncSender;

/// Events per [`Streamed::Events`].
const STREAM_BATCH: usize = 4096;

/// The power cut of a run: the model, fed every event, and the point.
struct Cutter {
    cut: PowerCut,
    resolver: PointResolver,
    model: Model,
}

/// The stream to a crash test, once the setup phase ended.
struct Stream {
    sender: SyncSender<Streamed>,
    /// Events not sent yet.
    batch: Vec<Event>,
}

/// What the sinks leave once closed.
pub(super) struct Closed {
    /// Where the trace was written.
    pub trace: Option<PathBuf>,
    /// The media as the setup phase left it, when the run kind keeps it.
    pub setup_media: Option<Arc<SharedMedia>>,
}

/// The sinks of one run's recording, as its [`RunKind`] asks.
pub(super) struct Sinks {
    trace_path: Option<PathBuf>,
    trace: Option<TraceWriter>,
    /// The stream until the setup phase ends.
    stream_to: Option<RecordingStream>,
    stream: Option<Stream>,
    cutter: Option<Cutter>,
    /// Keep the media the setup phase left.
    keep_setup: bool,
    /// Stop the run when the setup phase ends.
    stop_at_setup: bool,
    setup_media: Option<Arc<SharedMedia>>,
}

impl Sinks {
    /// The sinks `kind` asks for, on a device `config` describes.
    pub fn new(kind: &RunKind, config: ModelConfig) -> Sinks {
        let (stream_to, cut) = match kind {
            RunKind::CrashTest { stream, .. } => (stream.clone(), None),
            RunKind::Record { power_cut, .. } => (None, power_cut.clone()),
            RunKind::List | RunKind::CaptureSetup | RunKind::Verify { .. } => (None, None),
        };
        Sinks {
            trace_path: kind.trace().cloned(),
            trace: None,
            stream_to,
            stream: None,
            cutter: cut.map(|cut| Cutter {
                resolver: PointResolver::new(cut.at.clone()),
                cut,
                model: Model::new(config),
            }),
            keep_setup: matches!(kind, RunKind::CrashTest { .. } | RunKind::CaptureSetup),
            stop_at_setup: matches!(kind, RunKind::CaptureSetup),
            setup_media: None,
        }
    }

    /// The recording starts on `media` (what the setup phase left): creates
    /// the trace file and starts the stream, with the header `header`
    /// makes. Says whether the run stops here.
    pub fn start(
        &mut self,
        header: impl FnOnce() -> Header,
        media: &[u8],
    ) -> Result<Flow, VmmError> {
        let stream = self.stream_to.take();
        let media = if self.keep_setup || stream.is_some() {
            Some(Arc::new(SharedMedia::from_bytes(media)?))
        } else {
            None
        };
        let header = (self.trace_path.is_some() || stream.is_some()).then(header);
        if let (Some(path), Some(header)) = (&self.trace_path, &header) {
            self.trace = Some(TraceWriter::create(path, header)?);
        }
        if let (Some(RecordingStream(sender)), Some(header), Some(media)) = (stream, header, &media)
            && sender
                .send(Streamed::Setup(Box::new(header), media.clone()))
                .is_ok()
        {
            self.stream = Some(Stream {
                sender,
                batch: Vec::new(),
            });
        }
        if self.keep_setup {
            self.setup_media = media;
        }
        let reached = self
            .cutter
            .as_ref()
            .is_some_and(|c| c.resolver.reached().is_some());
        Ok(if reached || self.stop_at_setup {
            Flow::PowerFail
        } else {
            Flow::Continue
        })
    }

    /// The crash point of the run's power cut, if it has one.
    pub fn cut_point(&self) -> Option<&CrashPoint> {
        self.cutter.as_ref().map(|c| &c.cut.at)
    }

    /// One recorded event: to the model, the trace, the stream. Says
    /// whether the crash point was reached.
    pub fn event(&mut self, ev: Event) -> Result<Flow, VmmError> {
        if let Some(c) = self.cutter.as_mut() {
            replay::apply(&mut c.model, &ev)?;
        }
        if let Some(t) = self.trace.as_mut() {
            t.write(&ev)?;
        }
        let reached = self
            .cutter
            .as_mut()
            .is_some_and(|c| c.resolver.observe(&ev));
        if let Some(s) = self.stream.as_mut() {
            s.batch.push(ev);
            if s.batch.len() == STREAM_BATCH {
                self.send_batch();
            }
        }
        Ok(if reached {
            Flow::PowerFail
        } else {
            Flow::Continue
        })
    }

    /// The run ended, with a power failure or not, after `seq` events
    /// (`recording`: the setup phase had ended). With a power cut, `media`
    /// becomes the image it chose and the trace ends with the power
    /// failure, which is returned; a crash point never reached is an error.
    pub fn cut_power(
        &mut self,
        power_failed: bool,
        recording: bool,
        seq: u64,
        media: &mut [u8],
    ) -> Result<Option<(CrashPoint, String)>, VmmError> {
        let Some(c) = &self.cutter else {
            return Ok(None);
        };
        let point = &c.cut.at;
        if (power_failed || *point == CrashPoint::End) && recording {
            let spec = c.model.resolve(&c.cut.image);
            c.model.image(&spec)?.apply(media);
            let name = spec.to_string();
            let ev = Event::new(
                seq + 1,
                EventKind::PowerFail(PowerFail {
                    point: point.clone(),
                    image: Some(name.clone()),
                }),
            );
            if let Some(t) = self.trace.as_mut() {
                t.write(&ev)?;
            }
            return Ok(Some((point.clone(), name)));
        }
        if power_failed {
            return Ok(None);
        }
        let reason = c.resolver.finish().err().map_or_else(
            || format!("the guest never started recording, so {point} was not reached"),
            |e| e.to_string(),
        );
        Err(VmmError::Config {
            what: format!("--power-fail-at {point}"),
            reason,
        })
    }

    /// Ends the trace and the stream.
    pub fn close(mut self) -> Result<Closed, VmmError> {
        self.send_batch();
        if let Some(s) = self.stream.take() {
            let _ = s.sender.send(Streamed::End);
        }
        Ok(Closed {
            trace: self.trace.take().map(TraceWriter::finish).transpose()?,
            setup_media: self.setup_media.take(),
        })
    }

    /// Hands the events not streamed yet to the stream; a stream whose
    /// reader left (a crash test that stopped) is dropped.
    fn send_batch(&mut self) {
        let Some(s) = self.stream.as_mut() else {
            return;
        };
        let events = std::mem::take(&mut s.batch);
        if !events.is_empty() && s.sender.send(Streamed::Events(events)).is_err() {
            log::debug!("the recording's reader left; streaming stops");
            self.stream = None;
        }
    }
}
