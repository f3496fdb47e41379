// Package iso writes and reads the bootable, hybrid, deterministic ISO9660
// image that tbcompose produces.
//
// The image is an ISO9660 file system with Rock Ridge extensions (no Joliet; see
// Write for why) written by github.com/diskfs/go-diskfs, carrying:
//
//   - an El Torito boot catalog with a single no-emulation entry for the
//     UEFI platform (0xEF) whose boot image is the caller's FAT ESP image,
//     so the file boots as a CD;
//   - a protective MBR and a GPT in the ISO system area (first 32 KiB) with
//     one EFI System partition covering exactly the ESP image's extent, and
//     the backup GPT appended at the end, so the same file boots when
//     written to a USB stick or attached as a raw disk.
//
// Output is byte-for-byte reproducible: every timestamp is the caller's
// ModTime, owners are 0:0, modes are normalised, and GUIDs are derived from
// a hash of the image content.
package iso
