#!/usr/bin/env bash
# pipeline.sh packs an unpacked initramfs tree and a kernel into a hybrid
# UEFI ISO with the standard tools, the way image builders did before
# tbcompose: cpio | zstd, objcopy onto the systemd stub, mtools, xorriso.
# bench/main.go runs it side by side with tbcompose on the same bytes.
#
#   pipeline.sh ROOT VMLINUZ OSREL CMDLINE UNAME PAYLOAD VOLID OUT WORK [ZSTD_LEVEL]
#
# ROOT is the initramfs tree, OSREL/CMDLINE/UNAME files holding the UKI's
# text sections, PAYLOAD a directory placed at /www on the ISO, WORK a
# scratch directory. Each step's wall time goes to stdout as
# "step NAME NANOSECONDS" so the caller can break the total down.
set -euo pipefail

root=$1 vmlinuz=$2 osrel=$3 cmdline=$4 uname=$5 payload=$6 volid=$7 out=$8 work=$9
level=${10:-3}
stub=${STUB:-/usr/lib/systemd/boot/efi/linuxx64.efi.stub}

t0=$(date +%s%N)
step() { local t; t=$(date +%s%N); echo "step $1 $((t - t0))"; t0=$t; }

# initramfs: a sorted file list keeps the archive order stable; root owns
# everything, as the kernel expects.
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
	zstd -q -T0 "-$level" -o "$work/initrd.zst" -f
step initramfs

# UKI: each section goes after the previous one, starting after the stub's
# last section, page aligned, as ukify and dracut compute it; the 252 stub
# refuses sections that overlap its own.
align() { echo $((($1 + 4095) / 4096 * 4096)); }
last=$(objdump -h "$stub" | awk '$1 ~ /^[0-9]+$/ {size = $3; vma = $4} END {print size, vma}')
read -r size vma <<<"$last"
next=$(align $((16#$vma + 16#$size)))
args=()
for sec in osrel:"$osrel" cmdline:"$cmdline" uname:"$uname" linux:"$vmlinuz" initrd:"$work/initrd.zst"; do
	name=.${sec%%:*} file=${sec#*:}
	args+=(--add-section "$name=$file" --change-section-vma "$(printf '%s=0x%x' "$name" "$next")")
	next=$(align $((next + $(stat -c %s "$file"))))
done
objcopy "${args[@]}" "$stub" "$work/uki.efi"
step uki

# ESP: FAT sized to the UKI plus room for the FAT tables and directories.
kib=$((($(stat -c %s "$work/uki.efi") + 1023) / 1024 + 256))
rm -f "$work/esp.img"
truncate -s "${kib}K" "$work/esp.img"
mformat -i "$work/esp.img" -N 0 ::
mmd -i "$work/esp.img" ::/EFI ::/EFI/BOOT
mcopy -i "$work/esp.img" "$work/uki.efi" ::/EFI/BOOT/BOOTX64.EFI
step esp

# ISO: the ESP is appended once as GPT partition 2 and the El Torito EFI
# entry points at that partition, so the image boots as a CD and as a disk
# without carrying the ESP twice.
rm -rf "$work/isoroot"
mkdir -p "$work/isoroot"
cp -a "$payload" "$work/isoroot/www"
xorriso -as mkisofs -quiet -no-pad -o "$out" -R -V "$volid" \
	-append_partition 2 0xef "$work/esp.img" -appended_part_as_gpt \
	-e --interval:appended_partition_2:all:: -no-emul-boot \
	"$work/isoroot" 2>/dev/null
step iso
