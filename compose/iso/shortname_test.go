package iso

import "testing"

func TestCheckDirShortNames(t *testing.T) {
	tests := []struct {
		name    string
		names   []string
		wantErr bool
	}{
		{"no collisions", []string{"a.txt", "b.txt", "vmlinuz"}, false},
		{"one group", []string{"data.tar.gz", "data.tar.xz", "data.tar.zst"}, false},
		{"group plus its would-be rename", []string{"longname-a.txt", "longname-b.txt", "LONGNAM0.TXT"}, false},
		{"two groups, different prefixes", []string{"configxy-a.json", "configxy-b.json", "configzz-a.json", "configzz-b.json"}, false},
		{"two groups, different extensions", []string{"virtio_blk.ko", "virtio_balloon.ko", "virtio_blk.txt", "virtio_balloon.txt"}, false},
		{"two groups sharing prefix", []string{"virtio_blk.ko", "virtio_balloon.ko", "virtio_console.ko", "virtio_crypto.ko"}, true},
		// 11 members need two digits (prefix ABCDEF), 2 members one (ABCDEFZ).
		{"different digit widths overlap", []string{"abcdefgh-1", "abcdefgh-2", "abcdefgh-3", "abcdefgh-4",
			"abcdefgh-5", "abcdefgh-6", "abcdefgh-7", "abcdefgh-8", "abcdefgh-9", "abcdefgh-10", "abcdefgh-11",
			"abcdefz-1", "abcdefz-2"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkDirShortNames(tt.names)
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
	if b, e := shortName("with space ü.tar.gz"); b != "WITH_SPA" || e != "TAR" {
		t.Errorf("shortName = %q.%q", b, e)
	}
}
