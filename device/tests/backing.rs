//! The backing file: option parsing, the size rules, share=on/off, the label area.

use std::fs;
use std::path::{Path, PathBuf};

use pmemvm_abi::layout::MAX_NVDIMM_SIZE;
use pmemvm_device::DeviceError;
use pmemvm_device::backing::{
    Backing, DEFAULT_SIZE, GIB, KIB, MIB, NvdimmConfig, format_size, parse_size,
};

fn cfg(s: &str) -> NvdimmConfig {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn cfg_err(s: &str) -> String {
    match s.parse::<NvdimmConfig>() {
        Ok(c) => panic!("{s}: accepted as {c:?}"),
        Err(e) => e.to_string(),
    }
}

fn open_err(c: &NvdimmConfig) -> String {
    match Backing::open(c, MAX_NVDIMM_SIZE) {
        Ok(b) => panic!("{c}: opened as {b:?}"),
        Err(e) => e.to_string(),
    }
}

/// A deterministic, non-zero pattern.
fn pattern(len: u64, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 12) as u8)
        .collect()
}

fn config_for(path: &Path, size: u64, label: Option<u64>, share: bool) -> NvdimmConfig {
    NvdimmConfig {
        mem_path: path.to_path_buf(),
        size,
        label_size: label,
        share,
    }
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

// ---------------------------------------------------------------- parse_size

#[test]
fn parse_size_accepts_units() {
    let cases: &[(&str, u64)] = &[
        ("0", 0),
        ("4096", 4096),
        ("128K", 128 * KIB),
        ("128k", 128 * KIB),
        ("64M", 64 * MIB),
        ("64MiB", 64 * MIB),
        ("64MB", 64 * MIB),
        ("64mib", 64 * MIB),
        ("1G", GIB),
        ("1GiB", GIB),
        ("2T", 2 << 40),
        ("3P", 3 << 50),
        ("15E", 15 << 60),
        ("512B", 512),
        ("512b", 512),
    ];
    for &(s, v) in cases {
        assert_eq!(
            parse_size(s).unwrap_or_else(|e| panic!("{s}: {e}")),
            v,
            "{s}"
        );
    }
}

#[test]
fn parse_size_rejects_bad_strings() {
    assert_eq!(
        parse_size("12Q").unwrap_err().to_string(),
        "size `12Q`: unknown unit `Q`"
    );
    assert_eq!(
        parse_size("12MQ").unwrap_err().to_string(),
        "size `12MQ`: unknown unit `MQ`"
    );
    assert_eq!(
        parse_size("1 G").unwrap_err().to_string(),
        "size `1 G`: unknown unit ` G`"
    );
    assert_eq!(
        parse_size("12BB").unwrap_err().to_string(),
        "size `12BB`: unknown unit `BB`"
    );
    for s in ["", "M", "-1", "+5", " 5", "x", "0x1000"] {
        let e = parse_size(s).unwrap_err();
        assert!(
            matches!(&e, DeviceError::BadSize { input, .. } if input == s),
            "{s}: {e}"
        );
    }
    assert!(
        parse_size("1.5G")
            .unwrap_err()
            .to_string()
            .contains("fractions")
    );
    assert!(
        parse_size("M")
            .unwrap_err()
            .to_string()
            .contains("expected a number")
    );
}

#[test]
fn parse_size_rejects_overflow() {
    for s in [
        "16E",
        "16384P",
        "18446744073709551616",
        "99999999999999999999999K",
        "17179869184G",
    ] {
        let e = parse_size(s).unwrap_err().to_string();
        assert!(e.contains("too large"), "{s}: {e}");
    }
    assert_eq!(parse_size("18446744073709551615").unwrap(), u64::MAX);
}

#[test]
fn format_size_is_readable() {
    assert_eq!(format_size(64 * MIB), "64 MiB");
    assert_eq!(format_size(128 * KIB), "128 KiB");
    assert_eq!(format_size(3 * GIB), "3 GiB");
    assert_eq!(format_size(4097), "4097 bytes");
    assert_eq!(format_size(0), "0 bytes");
}

// ---------------------------------------------------------------- options

#[test]
fn config_parses_all_options() {
    let c = cfg("mem-path=/tmp/pm.img,size=64M,label-size=128K,share=on");
    assert_eq!(
        c,
        config_for(Path::new("/tmp/pm.img"), 64 * MIB, Some(128 * KIB), true)
    );
    // Any order; share defaults to off; no label area by default.
    let c = cfg("size=1G,mem-path=pm.img");
    assert_eq!(c, config_for(Path::new("pm.img"), GIB, None, false));
    assert!(!cfg("mem-path=a,size=2M,share=off").share);
}

#[test]
fn config_double_comma_is_a_literal_comma() {
    let c = cfg("mem-path=/tmp/a,,b.img,size=4M");
    assert_eq!(c.mem_path, PathBuf::from("/tmp/a,b.img"));
    // Display gives back an equivalent string.
    assert_eq!(cfg(&c.to_string()), c);
    let c = cfg("mem-path=x,size=66M,label-size=256K,share=on");
    assert_eq!(
        c.to_string(),
        format!(
            "mem-path=x,size={},label-size={},share=on",
            66 * MIB,
            256 * KIB
        )
    );
    assert_eq!(cfg(&c.to_string()), c);
}

#[test]
fn config_rejects_bad_options() {
    let cases: &[(&str, &str)] = &[
        ("mem-path=a,size=64M,size=64M", "size: given more than once"),
        (
            "mem-path=a,mem-path=b,size=64M",
            "mem-path: given more than once",
        ),
        ("mem-path=a,size=64M,pmem=on", "pmem: unknown option"),
        (
            "mem-path=a,size=64M,share=yes",
            "share: `yes`: expected `on` or `off`",
        ),
        ("mem-path=a,size=64M,share=", "share: empty value"),
        ("mem-path=,size=64M", "mem-path: empty value"),
        ("size=64M", "mem-path: missing"),
        ("mem-path=a", "size: missing"),
        ("mem-path=a,size=12Q", "size: `12Q`: unknown unit `Q`"),
        (
            "mem-path=a,size=64M,label-size=1X",
            "label-size: `1X`: unknown unit `X`",
        ),
        ("mem-path=a,size=64M,share", "share: expected `key=value`"),
        ("mem-path=a,size=64M,", "empty option"),
        ("", "empty option"),
    ];
    for (s, want) in cases {
        let e = cfg_err(s);
        assert!(
            e.starts_with(want) || e.contains(want),
            "{s}: got `{e}`, want `{want}`"
        );
    }
}

#[test]
fn size_rules() {
    // Page-aligned, and a multiple of 2 MiB without a label area.
    assert!(cfg_err("mem-path=a,size=4097").contains("not a multiple of the page size"));
    let e = cfg_err("mem-path=a,size=65M");
    assert_eq!(e, "size: 65 MiB is not a multiple of 2 MiB");
    // label-size at least 128 KiB, and 0 is not "no label".
    assert_eq!(
        cfg_err("mem-path=a,size=64M,label-size=64K"),
        "label-size: 64 KiB is less than the minimum, 128 KiB"
    );
    assert!(cfg_err("mem-path=a,size=64M,label-size=0").contains("less than the minimum"));
    // At least 2 MiB left for the guest.
    assert!(cfg_err("mem-path=a,size=0").contains("leaves less than 2 MiB"));
    assert!(cfg_err("mem-path=a,size=2M,label-size=128K").contains("leaves less than 2 MiB"));
    assert!(cfg_err("mem-path=a,size=4M,label-size=4M").contains("leaves less than 2 MiB"));
    assert!(cfg_err("mem-path=a,size=4M,label-size=8M").contains("leaves less than 2 MiB"));
}

#[test]
fn guest_size_is_rounded_down_to_2mib() {
    assert_eq!(cfg("mem-path=a,size=64M").guest_size(), 64 * MIB);
    assert_eq!(
        cfg("mem-path=a,size=64M,label-size=128K").guest_size(),
        62 * MIB
    );
    assert_eq!(
        cfg(&format!(
            "mem-path=a,size={},label-size=128K",
            64 * MIB + 128 * KIB
        ))
        .guest_size(),
        64 * MIB
    );
    // With a label area, size need only be page-aligned.
    assert_eq!(
        cfg(&format!(
            "mem-path=a,size={},label-size=128K",
            65 * MIB + 4 * KIB
        ))
        .guest_size(),
        64 * MIB
    );
    assert_eq!(
        cfg("mem-path=a,size=4M,label-size=2M").guest_size(),
        2 * MIB
    );
}

// ---------------------------------------------------------------- open

#[test]
fn open_rejects_a_size_above_the_maximum() {
    let dir = tempfile::tempdir().unwrap();
    let c = config_for(&dir.path().join("pm.img"), 128 * GIB, None, false);
    let e = Backing::open(&c, 64 * GIB).unwrap_err().to_string();
    assert_eq!(
        e,
        "size: 128 GiB is larger than the maximum 64 GiB: it does not fit the guest address space"
    );
    assert!(Backing::open(&c, 128 * GIB).is_ok());
}

#[test]
fn open_revalidates_a_hand_built_config() {
    let dir = tempfile::tempdir().unwrap();
    let c = config_for(&dir.path().join("pm.img"), 3 * MIB, None, false);
    assert!(open_err(&c).contains("not a multiple of 2 MiB"));
}

#[test]
fn wrong_size_file_is_an_error_and_untouched() {
    for share in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pm.img");
        let content = pattern(4 * MIB, 7);
        fs::write(&path, &content).unwrap();
        let c = config_for(&path, 8 * MIB, None, share);
        let e = open_err(&c);
        assert_eq!(
            e,
            format!(
                "{}: the file is 4 MiB but size=8 MiB: an existing backing file must have exactly the given size",
                path.display()
            )
        );
        assert_eq!(fs::read(&path).unwrap(), content);
        assert_eq!(listing(dir.path()), ["pm.img"]);
    }
}

#[test]
fn a_directory_is_not_a_backing_file() {
    let dir = tempfile::tempdir().unwrap();
    for share in [false, true] {
        let c = config_for(dir.path(), 4 * MIB, None, share);
        assert!(open_err(&c).ends_with("not a regular file"));
    }
}

#[test]
fn share_on_needs_a_writable_directory() {
    let dir = tempfile::tempdir().unwrap();
    // Missing directory.
    let c = config_for(&dir.path().join("nope/pm.img"), 4 * MIB, None, true);
    let e = open_err(&c);
    assert!(
        e.starts_with(&format!("{}: directory ", c.mem_path.display())),
        "{e}"
    );
    // The "directory" is a file.
    fs::write(dir.path().join("plain"), b"x").unwrap();
    let c = config_for(&dir.path().join("plain/pm.img"), 4 * MIB, None, true);
    assert!(open_err(&c).contains("is not a directory"));
    assert_eq!(listing(dir.path()), ["plain"]);
}

#[test]
fn share_on_rejects_an_unwritable_directory() {
    // Root ignores permission bits; the check is only observable otherwise.
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let ro = dir.path().join("ro");
    fs::create_dir(&ro).unwrap();
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o555)).unwrap();
    let c = config_for(&ro.join("pm.img"), 4 * MIB, None, true);
    assert!(open_err(&c).contains("cannot create files in"));
    // share=off never writes: fine.
    let c = config_for(&ro.join("pm.img"), 4 * MIB, None, false);
    assert!(Backing::open(&c, MAX_NVDIMM_SIZE).is_ok());
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o755)).unwrap();
    // A read-only file in a writable directory, with share=on.
    let file = dir.path().join("ro.img");
    fs::write(&file, pattern(2 * MIB, 1)).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o444)).unwrap();
    let c = config_for(&file, 2 * MIB, None, true);
    assert!(open_err(&c).contains("not writable, needed for share=on"));
    assert_eq!(fs::read(&file).unwrap(), pattern(2 * MIB, 1));
}

#[test]
fn share_off_missing_file_starts_from_zeros_and_is_never_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pm.img");
    let b = Backing::open(
        &cfg(&format!(
            "mem-path={},size=4M,label-size=128K",
            path.display()
        )),
        MAX_NVDIMM_SIZE,
    )
    .unwrap();
    assert!(!b.existed());
    assert!(!b.share());
    assert_eq!(b.guest_size(), 2 * MIB);
    assert_eq!(b.size(), 4 * MIB);
    let mut buf = vec![1u8; 2 * MIB as usize];
    b.read_initial_media(&mut buf).unwrap();
    assert!(buf.iter().all(|&x| x == 0));
    let copy = b.map_guest_copy().unwrap();
    assert!(copy.as_slice().iter().all(|&x| x == 0));
    b.write_media(&pattern(2 * MIB, 1)).unwrap();
    assert!(!path.exists());
    assert!(listing(dir.path()).is_empty());
}

#[test]
fn share_off_existing_file_supplies_content_and_is_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pm.img");
    let size = 6 * MIB + 256 * KIB;
    let content = pattern(size, 3);
    fs::write(&path, &content).unwrap();
    let before = fs::metadata(&path).unwrap().modified().unwrap();
    let b = Backing::open(
        &config_for(&path, size, Some(256 * KIB), false),
        MAX_NVDIMM_SIZE,
    )
    .unwrap();
    assert!(b.existed());
    assert_eq!(b.guest_size(), 6 * MIB);
    let mut buf = vec![0u8; b.guest_size() as usize];
    b.read_initial_media(&mut buf).unwrap();
    assert_eq!(buf, content[..6 * MIB as usize]);
    let mut copy = b.map_guest_copy().unwrap();
    assert_eq!(copy.as_slice(), &content[..6 * MIB as usize]);
    copy.as_mut_slice().fill(0xee);
    b.write_media(copy.as_slice()).unwrap();
    drop(copy);
    assert_eq!(fs::read(&path).unwrap(), content);
    assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), before);
    assert_eq!(listing(dir.path()), ["pm.img"]);
}

#[test]
fn share_off_accepts_a_read_only_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pm.img");
    fs::write(&path, pattern(2 * MIB, 9)).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o444)).unwrap();
    let b = Backing::open(&config_for(&path, 2 * MIB, None, false), MAX_NVDIMM_SIZE).unwrap();
    assert_eq!(b.map_guest_copy().unwrap().as_slice(), pattern(2 * MIB, 9));
}

#[test]
fn guest_copy_is_private_and_page_aligned() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pm.img");
    let content = pattern(4 * MIB, 5);
    fs::write(&path, &content).unwrap();
    let b = Backing::open(&config_for(&path, 4 * MIB, None, true), MAX_NVDIMM_SIZE).unwrap();
    let mut copy = b.map_guest_copy().unwrap();
    assert_eq!(copy.as_ptr() as usize % 4096, 0);
    assert_eq!(copy.len(), 4 * MIB as usize);
    assert!(!copy.is_empty());
    copy.as_mut_slice()[..4096].fill(0xaa);
    // Writes to the copy never reach the file, even with share=on.
    assert_eq!(fs::read(&path).unwrap(), content);
    // A second copy starts again from the file.
    let again = b.map_guest_copy().unwrap();
    assert_eq!(again.as_slice(), &content[..]);
    // The copy can move to another thread (the vCPU thread).
    let handle = std::thread::spawn(move || copy.as_slice()[0]);
    assert_eq!(handle.join().unwrap(), 0xaa);
}

#[test]
fn share_on_missing_file_is_created_only_when_the_media_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pm.img");
    let c = config_for(&path, 4 * MIB + 128 * KIB, Some(128 * KIB), true);
    // A run that fails before writing the media leaves nothing.
    drop(Backing::open(&c, MAX_NVDIMM_SIZE).unwrap());
    assert!(listing(dir.path()).is_empty());

    let b = Backing::open(&c, MAX_NVDIMM_SIZE).unwrap();
    assert!(!b.existed());
    assert!(listing(dir.path()).is_empty());
    let media = pattern(4 * MIB, 11);
    b.write_media(&media).unwrap();
    let file = fs::read(&path).unwrap();
    assert_eq!(file.len() as u64, c.size);
    assert_eq!(&file[..media.len()], &media[..]);
    assert!(
        file[media.len()..].iter().all(|&x| x == 0),
        "label area zero-filled"
    );
    assert_eq!(listing(dir.path()), ["pm.img"]);
    // Writing again replaces the content, still whole.
    let media2 = pattern(4 * MIB, 12);
    b.write_media(&media2).unwrap();
    assert_eq!(&fs::read(&path).unwrap()[..media2.len()], &media2[..]);
}

#[test]
fn share_on_keeps_the_label_area_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pm.img");
    // 64 MiB + 4 KiB with a 1 MiB label: the guest sees 62 MiB; the 1 MiB + 4 KiB
    // of padding and the label area are both outside it and both kept.
    let size = 64 * MIB + 4 * KIB;
    let content = pattern(size, 21);
    fs::write(&path, &content).unwrap();
    let c = config_for(&path, size, Some(MIB), true);
    let b = Backing::open(&c, MAX_NVDIMM_SIZE).unwrap();
    assert_eq!(b.guest_size(), 62 * MIB);
    let mut copy = b.map_guest_copy().unwrap();
    assert_eq!(copy.as_slice(), &content[..62 * MIB as usize]);
    copy.as_mut_slice()
        .iter_mut()
        .step_by(4096)
        .for_each(|x| *x = !*x);
    b.write_media(copy.as_slice()).unwrap();
    let file = fs::read(&path).unwrap();
    assert_eq!(file.len() as u64, size);
    assert_eq!(&file[..62 * MIB as usize], copy.as_slice());
    assert_eq!(&file[62 * MIB as usize..], &content[62 * MIB as usize..]);
    assert_eq!(listing(dir.path()), ["pm.img"]);
}

#[test]
fn share_on_keeps_permissions_and_symlinks() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.img");
    let link = dir.path().join("link.img");
    fs::write(&real, pattern(2 * MIB, 2)).unwrap();
    fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let b = Backing::open(&config_for(&link, 2 * MIB, None, true), MAX_NVDIMM_SIZE).unwrap();
    assert_eq!(b.path(), Some(fs::canonicalize(&real).unwrap().as_path()));
    b.write_media(&vec![0x5a; 2 * MIB as usize]).unwrap();
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(fs::read(&real).unwrap().iter().all(|&x| x == 0x5a));
    assert_eq!(
        fs::metadata(&real).unwrap().permissions().mode() & 0o777,
        0o640
    );
    assert_eq!(listing(dir.path()), ["link.img", "real.img"]);
}

#[test]
fn write_media_of_the_wrong_length_is_an_error_and_leaves_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pm.img");
    let content = pattern(4 * MIB, 4);
    fs::write(&path, &content).unwrap();
    let b = Backing::open(&config_for(&path, 4 * MIB, None, true), MAX_NVDIMM_SIZE).unwrap();
    let e = b.write_media(&[0; 4096]).unwrap_err().to_string();
    assert!(e.contains("media buffer of 4096 bytes"), "{e}");
    let e = b
        .read_initial_media(&mut [0; 4096])
        .unwrap_err()
        .to_string();
    assert!(e.contains("media buffer of 4096 bytes"), "{e}");
    assert_eq!(fs::read(&path).unwrap(), content);
    assert_eq!(listing(dir.path()), ["pm.img"]);
}

#[test]
fn write_media_failure_leaves_the_old_file_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pm.img");
    let content = pattern(4 * MIB, 8);
    fs::write(&path, &content).unwrap();
    let b = Backing::open(
        &config_for(&path, 4 * MIB, Some(128 * KIB), true),
        MAX_NVDIMM_SIZE,
    )
    .unwrap();
    // Someone truncates the file under us: the label area cannot be copied,
    // so the write fails, and no temporary file is left behind.
    let shorter = &content[..3 * MIB as usize];
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(3 * MIB)
        .unwrap();
    let e = b
        .write_media(&vec![0; b.guest_size() as usize])
        .unwrap_err();
    assert!(matches!(e, DeviceError::Io { .. }), "{e}");
    assert_eq!(fs::read(&path).unwrap(), shorter);
    assert_eq!(listing(dir.path()), ["pm.img"]);
}

#[test]
fn temporary_backing_is_zeros_in_memory() {
    let b = Backing::temporary(DEFAULT_SIZE).unwrap();
    assert_eq!(b.guest_size(), 64 * MIB);
    assert_eq!(b.path(), None);
    assert!(!b.share());
    let mut copy = b.map_guest_copy().unwrap();
    assert_eq!(copy.len(), 64 * MIB as usize);
    assert!(copy.as_slice().iter().step_by(4096).all(|&x| x == 0));
    copy.as_mut_slice()[0] = 1;
    b.write_media(copy.as_slice()).unwrap();
    assert!(
        Backing::temporary(3 * MIB)
            .unwrap_err()
            .to_string()
            .contains("multiple of 2 MiB")
    );
    assert!(Backing::temporary(0).is_err());
}
