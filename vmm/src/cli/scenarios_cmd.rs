//! `pmemvm scenarios`.

use super::GuestArgs;

/// Arguments of `pmemvm scenarios`.
#[derive(Debug, clap::Args)]
pub struct ScenariosArgs {
    #[command(flatten)]
    guest: GuestArgs,
    /// Print JSON instead of text: each scenario's name, description and
    /// variants (names with descriptions).
    #[arg(long)]
    json: bool,
}

/// Boots the guest in list mode and prints what it reports.
pub fn run(a: &ScenariosArgs) -> anyhow::Result<i32> {
    let guest = a.guest.guest()?;
    let list = pmemvm::session::list_scenarios(&guest.source, guest.mem, guest.timeout)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        let width = list.iter().map(|s| s.name.len()).max().unwrap_or(0);
        for s in &list {
            let names: Vec<&str> = s.variants.iter().map(|v| v.name.as_str()).collect();
            match names.as_slice() {
                [] => println!("{:width$}  {}", s.name, s.description),
                _ => println!(
                    "{:width$}  {} (variants: {})",
                    s.name,
                    s.description,
                    names.join(", ")
                ),
            }
        }
    }
    Ok(0)
}
