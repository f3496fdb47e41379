// Package iso writes and reads the bootable, hybrid, deterministic ISO9660
// image that tbcompose produces.
//
// The image is an ISO9660 file system (level 1 names, see names.go) with
// SUSP and Rock Ridge (RRIP 1.10: NM names, SL symlinks, PX permissions,
// TF times) and no Joliet tree, carrying:
//
//   - an El Torito boot catalog with a no-emulation entry for the UEFI
//     platform (0xEF) whose boot image is the caller's FAT ESP image, so
//     the file boots as a CD; optionally (Options.BIOS) a PC BIOS
//     no-emulation entry before it, booting a payload file such as
//     isolinux.bin with its boot info table patched;
//   - a protective MBR and a GPT in the ISO system area (first 32 KiB) with
//     one EFI System partition covering exactly the ESP image's extent, and
//     the backup GPT appended at the end, so the same file boots when
//     written to a USB stick or attached as a raw disk; optionally
//     isohybrid MBR boot code in front of the partition table for BIOS
//     disk boot;
//   - optionally files whose extents are byte ranges of the ESP or of
//     another file (Alias), so a BIOS loader can read the UKI's kernel and
//     initrd as files without storing them twice.
//
// # Why this package writes ISO9660 itself
//
// The image used to be written by github.com/diskfs/go-diskfs (v1.9.4),
// which needed about 640 lines of workarounds: it builds from a workspace
// directory, so the whole payload was copied once more (2 GiB of payload,
// 2 GiB of extra I/O); it stamps volume descriptors and Rock Ridge records
// with the wall clock and the building user, so the finished image had to
// be patched for reproducibility; it resolves 8.3 name collisions in map
// order, so some directories had to be refused; its deep-directory
// relocation and Joliet trees are unreadable; and it cannot express an
// extent that points into bytes already in the image, which BIOS boot
// needs. The records the writer needs are few and fixed (the reader side
// of this package already decoded every one of them), so the writer plans
// the whole layout from file sizes first and then streams the image front
// to back: each payload file is read exactly once, memory grows with the
// number of names, not their bytes, and the output is a function of the
// inputs alone (sorted records, one timestamp, owners 0:0, GUIDs from a
// hash of the image).
//
// Joliet is not written: Rock Ridge carries the full names for Linux (the
// only reader of the tree), firmware reads only the ESP, and ISOLINUX
// reads level 1 or Rock Ridge names. Directories deeper than 8 levels are
// written in place rather than relocated, a relaxation every reader we
// target accepts. Files of 4 GiB and more (multi-extent) are refused.
//
// Reading (Open, Image) still uses go-diskfs, which reads our output and
// others' images well; its panics on malformed input are caught.
package iso
