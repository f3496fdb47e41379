package acpi

import (
	"encoding/binary"
	"reflect"
	"testing"
)

// message builds one netlink datagram holding a genetlink ACPI event, as
// the kernel's acpi_bus_generate_netlink_event sends it.
func message(cmd byte, class, bus string, typ, data uint32) []byte {
	ev := make([]byte, eventSize)
	copy(ev[:20], class)
	copy(ev[20:35], bus)
	binary.NativeEndian.PutUint32(ev[36:], typ)
	binary.NativeEndian.PutUint32(ev[40:], data)
	attr := make([]byte, 4, 4+len(ev))
	binary.NativeEndian.PutUint16(attr[0:], uint16(4+len(ev)))
	binary.NativeEndian.PutUint16(attr[2:], attrEvent)
	attr = append(attr, ev...)
	msg := make([]byte, 16, 64+len(attr))
	msg = append(msg, cmd, 1, 0, 0)
	msg = append(msg, attr...)
	binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:], 0x1c) // dynamic family id
	return msg
}

func TestParse(t *testing.T) {
	power := message(cmdEvent, "button/power", "LNXPWRBN:00", 0x80, 1)
	lid := message(cmdEvent, "button/lid", "PNP0C0D:00", 0x80, 2)
	tests := []struct {
		name    string
		in      []byte
		want    []Event
		wantErr bool
	}{
		{"power", power, []Event{{"button/power", "LNXPWRBN:00", 0x80, 1}}, false},
		{"two in one datagram", append(append([]byte{}, power...), lid...),
			[]Event{{"button/power", "LNXPWRBN:00", 0x80, 1}, {"button/lid", "PNP0C0D:00", 0x80, 2}}, false},
		{"other command", message(2, "button/power", "x", 0, 0), nil, false},
		{"empty", nil, nil, false},
		{"truncated event", power[:len(power)-4], nil, true},
		{"bad length", func() []byte { b := append([]byte{}, power...); binary.NativeEndian.PutUint32(b, 9999); return b }(), nil, true},
		{"full bus id", message(cmdEvent, "button/power", "ABCDEFGHIJKLMNO", 1, 2), []Event{{"button/power", "ABCDEFGHIJKLMNO", 1, 2}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if (err != nil) != tt.wantErr || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse = %+v, %v; want %+v, err %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(message(cmdEvent, "button/power", "LNXPWRBN:00", 0x80, 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = Parse(b)
	})
}
