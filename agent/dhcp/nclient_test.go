package dhcp

import (
	"bytes"
	"net"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
)

// The messages the agent builds without dhcpv4.New must be, byte for
// byte, the ones nclient4 would have sent with the same transaction id.
func TestMessagesAsLibrary(t *testing.T) {
	hw := net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}
	xid := dhcpv4.TransactionID{1, 2, 3, 4}
	maxSize := dhcpv4.WithOption(dhcpv4.OptMaxMessageSize(nclient4.MaxMessageSize))
	for _, tc := range []struct {
		name string
		mods []dhcpv4.Modifier
	}{
		{"bare", nil},
		{"agent's options", (&nclientConn{hostname: "web-1"}).mods()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := dhcpv4.NewDiscovery(hw, append(dhcpv4.PrependModifiers(tc.mods, maxSize), dhcpv4.WithTransactionID(xid))...)
			if err != nil {
				t.Fatal(err)
			}
			got := discoverMessage(xid, hw, tc.mods...)
			if !bytes.Equal(got.ToBytes(), want.ToBytes()) {
				t.Errorf("DISCOVER differs from dhcpv4.NewDiscovery's:\ngot  %s\nwant %s", got.Summary(), want.Summary())
			}

			offer, err := dhcpv4.New(dhcpv4.WithReply(want),
				dhcpv4.WithMessageType(dhcpv4.MessageTypeOffer),
				dhcpv4.WithYourIP(net.IPv4(10, 0, 2, 15)),
				dhcpv4.WithServerIP(net.IPv4(10, 0, 2, 2)),
				dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 0, 2, 2))))
			if err != nil {
				t.Fatal(err)
			}
			offer.OpCode = dhcpv4.OpcodeBootReply
			wantReq, err := dhcpv4.NewRequestFromOffer(offer, dhcpv4.PrependModifiers(tc.mods, maxSize)...)
			if err != nil {
				t.Fatal(err)
			}
			gotReq := requestMessage(offer, tc.mods...)
			if gotReq.TransactionID != xid {
				t.Errorf("REQUEST xid %s, want the offer's %s", gotReq.TransactionID, xid)
			}
			if !bytes.Equal(gotReq.ToBytes(), wantReq.ToBytes()) {
				t.Errorf("REQUEST differs from dhcpv4.NewRequestFromOffer's:\ngot  %s\nwant %s", gotReq.Summary(), wantReq.Summary())
			}
		})
	}
}

func TestTransactionID(t *testing.T) {
	hw := net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}
	seen := map[dhcpv4.TransactionID]bool{}
	for range 16 {
		seen[transactionID(hw)] = true
	}
	// 16 draws of 32 bits: a repeat means the ids are not drawn at all.
	if len(seen) != 16 {
		t.Errorf("16 transaction ids, %d distinct", len(seen))
	}
}
