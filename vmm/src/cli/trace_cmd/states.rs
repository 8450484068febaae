//! `pmemvm trace states FILE --at POINT`.

use pmemvm::replay::replay_to;
use pmemvm_device::crash::{Image, ImageSpec};
use pmemvm_traces::CrashPoint;
use serde_json::json;
use std::path::PathBuf;

/// Arguments of `pmemvm trace states`.
#[derive(Debug, clap::Args)]
pub struct StatesArgs {
    /// The trace (.json or .jsonl).
    file: PathBuf,
    /// Crash point (seq:N, fence:K, store:K, promise:K, mark:LABEL[#K], end).
    #[arg(long, value_name = "POINT")]
    at: String,
    /// Enumerate the images when there are at most this many.
    #[arg(long, default_value_t = 4096)]
    limit: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn image_json(spec: &ImageSpec, image: &Image) -> serde_json::Value {
    let lines: serde_json::Map<String, serde_json::Value> = image
        .lines
        .iter()
        .map(|(off, bytes)| {
            (
                format!("{off:#x}"),
                json!(pmemvm_traces::hex::encode(bytes)),
            )
        })
        .collect();
    json!({ "image": spec.to_string(), "sha256": image.hash_hex(), "lines": lines })
}

fn print_image(title: &str, spec: &ImageSpec, image: &Image) {
    println!("{title}: {spec}");
    for (off, bytes) in &image.lines {
        println!("  line {off:#010x}  {}", pmemvm_traces::hex::encode(bytes));
    }
}

/// Replays the trace to the point and lists the images.
pub fn run(a: &StatesArgs) -> anyhow::Result<i32> {
    let point: CrashPoint =
        a.at.parse()
            .map_err(|e| super::super::bad_value("--at", &a.at, e))?;
    let r = super::common::name_file(&a.file, replay_to(&a.file, &point))?;
    let count = r.model.count_images();
    let count_text = if count == u128::MAX {
        "too many to count".to_string()
    } else {
        count.to_string()
    };
    let listed = r.model.enumerate_images(a.limit);
    let extremes = || -> anyhow::Result<Vec<(ImageSpec, Image)>> {
        [ImageSpec::Minimal, ImageSpec::Maximal]
            .iter()
            .map(|s| {
                let spec = r.model.resolve(s);
                Ok((spec.clone(), r.model.image(&spec)?))
            })
            .collect()
    };
    if a.json {
        let (exhaustive, images) = match &listed {
            Some(list) => (true, list.clone()),
            None => (false, extremes()?),
        };
        let doc = json!({
            "trace": a.file.display().to_string(),
            "point": point.to_string(),
            "seq": r.seq,
            "persistence": r.header.persistence.name(),
            "atomicity": r.header.atomicity.name(),
            "count": count_text,
            "exhaustive": exhaustive,
            "images": images.iter().map(|(s, i)| image_json(s, i)).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(0);
    }
    println!(
        "{} at {point} (just after seq {}), {} / {}: {count_text} distinct persistent image(s)",
        a.file.display(),
        r.seq,
        r.header.persistence.name(),
        r.header.atomicity.name()
    );
    match listed {
        Some(list) => {
            for (i, (spec, image)) in list.iter().enumerate() {
                print_image(&format!("image {}", i + 1), spec, image);
            }
        }
        None => {
            println!(
                "more than --limit {}: showing the minimal and maximal images",
                a.limit
            );
            let ext = extremes()?;
            for ((spec, image), title) in ext.iter().zip(["minimal", "maximal"]) {
                print_image(title, spec, image);
            }
        }
    }
    Ok(0)
}
