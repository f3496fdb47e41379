// Package ovmfvars reads and edits OVMF's variable store file (the
// OVMF_VARS*.fd pflash image): a firmware volume holding an authenticated
// variable store, as EDK2's VariableRuntimeDxe keeps it. Enroll writes a
// Secure Boot key set into one, so a VM boots in user mode with it.
package ovmfvars

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tinyboot/tinyboot/compose/secureboot"
)

var (
	// systemNvDataFv is the FileSystemGuid of the NV variable volume.
	systemNvDataFv = secureboot.MustGUID("fff12b8d-7696-4c8b-a985-2747075b4f50")
	// authenticatedStore marks a store whose variables have
	// AUTHENTICATED_VARIABLE_HEADERs.
	authenticatedStore = secureboot.MustGUID("aaf32c78-947b-439a-a180-2e144ec37792")
	// secureBootEnableGUID owns SecureBootEnable, customModeGUID
	// CustomMode (both EDK2's).
	secureBootEnableGUID = secureboot.MustGUID("f0a30bc7-af08-4556-99c4-001009c93a44")
	customModeGUID       = secureboot.MustGUID("c076ec0c-7028-4399-a072-71ee5c448b9f")
)

const (
	fvSignatureOff   = 40 // "_FVH" in EFI_FIRMWARE_VOLUME_HEADER
	fvHeaderLenOff   = 48
	storeHeaderSize  = 28 // VARIABLE_STORE_HEADER
	storeFormatted   = 0x5a
	storeHealthy     = 0xfe
	varHeaderSize    = 60 // AUTHENTICATED_VARIABLE_HEADER
	varStartID       = 0x55aa
	varAdded         = 0x3f
	varDeletedMask   = 0xfd // clears VAR_DELETED's bit
	varInDeletedTran = 0x3e
	headerAlign      = 4
)

// Store is an OVMF variable store file held in memory.
type Store struct {
	b        []byte
	storeOff int // VARIABLE_STORE_HEADER offset
	storeEnd int // end of the store's space
	free     int // first free byte (where the next header goes)
}

// Variable is one live variable of a store.
type Variable struct {
	Name       string
	Vendor     secureboot.GUID
	Attributes uint32
	TimeStamp  [16]byte
	Data       []byte
	off        int
}

// Parse reads a variable store file such as OVMF_VARS_4M.fd.
func Parse(b []byte) (*Store, error) {
	if len(b) < 64 || string(b[fvSignatureOff:fvSignatureOff+4]) != "_FVH" {
		return nil, errors.New("not a firmware volume: no _FVH signature at offset 40")
	}
	var fs secureboot.GUID
	copy(fs[:], b[16:32])
	if fs != systemNvDataFv {
		return nil, fmt.Errorf("firmware volume %s is not an NV variable volume (want %s)", fs, systemNvDataFv)
	}
	off := int(binary.LittleEndian.Uint16(b[fvHeaderLenOff:]))
	if off+storeHeaderSize > len(b) {
		return nil, errors.New("variable store header runs past the end of the file")
	}
	var sg secureboot.GUID
	copy(sg[:], b[off:])
	size := int(binary.LittleEndian.Uint32(b[off+16:]))
	if sg != authenticatedStore {
		return nil, fmt.Errorf("variable store %s is not an authenticated one (want %s): this OVMF build has no Secure Boot", sg, authenticatedStore)
	}
	if b[off+20] != storeFormatted || b[off+21] != storeHealthy {
		return nil, fmt.Errorf("variable store is not formatted and healthy (format %#x state %#x)", b[off+20], b[off+21])
	}
	if off+size > len(b) || size < storeHeaderSize {
		return nil, fmt.Errorf("variable store size %#x runs past the end of the %d-byte file", size, len(b))
	}
	s := &Store{b: bytes.Clone(b), storeOff: off, storeEnd: off + size}
	s.free = s.storeOff + storeHeaderSize
	for {
		_, next, ok := s.at(s.free)
		if !ok {
			break
		}
		s.free = next
	}
	return s, nil
}

// at decodes the variable header at off; ok is false at the end of the
// variables.
func (s *Store) at(off int) (v Variable, next int, ok bool) {
	if off+varHeaderSize > s.storeEnd || binary.LittleEndian.Uint16(s.b[off:]) != varStartID {
		return v, 0, false
	}
	h := s.b[off:]
	nameSize := int(binary.LittleEndian.Uint32(h[36:]))
	dataSize := int(binary.LittleEndian.Uint32(h[40:]))
	end := off + varHeaderSize + nameSize + dataSize
	if nameSize < 2 || end > s.storeEnd {
		return v, 0, false
	}
	v.Attributes = binary.LittleEndian.Uint32(h[4:])
	copy(v.TimeStamp[:], h[16:32])
	copy(v.Vendor[:], h[44:60])
	name := h[varHeaderSize : varHeaderSize+nameSize-2]
	for i := 0; i+1 < len(name); i += 2 {
		v.Name += string(rune(binary.LittleEndian.Uint16(name[i:])))
	}
	v.Data = h[varHeaderSize+nameSize : varHeaderSize+nameSize+dataSize]
	v.off = off
	return v, alignUp(end, headerAlign), true
}

func (s *Store) state(off int) byte { return s.b[off+2] }

// Variables returns the live variables in store order.
func (s *Store) Variables() []Variable {
	var out []Variable
	for off := s.storeOff + storeHeaderSize; ; {
		v, next, ok := s.at(off)
		if !ok {
			return out
		}
		if st := s.state(off); st == varAdded || st == varInDeletedTran {
			out = append(out, v)
		}
		off = next
	}
}

// Get returns the live variable name/vendor.
func (s *Store) Get(name string, vendor secureboot.GUID) (Variable, bool) {
	for _, v := range s.Variables() {
		if v.Name == name && v.Vendor == vendor {
			return v, true
		}
	}
	return Variable{}, false
}

// Set marks any live name/vendor deleted and appends the new value, as
// the firmware's own variable driver does.
func (s *Store) Set(name string, vendor secureboot.GUID, attrs uint32, timeStamp [16]byte, data []byte) error {
	nameBytes := append(secureboot.UTF16(name), 0, 0)
	need := varHeaderSize + len(nameBytes) + len(data)
	if s.free+need > s.storeEnd {
		return fmt.Errorf("variable store is full: %s needs %d bytes, %d free", name, need, s.storeEnd-s.free)
	}
	for _, v := range s.Variables() {
		if v.Name == name && v.Vendor == vendor {
			s.b[v.off+2] &= varDeletedMask
		}
	}
	h := s.b[s.free:]
	binary.LittleEndian.PutUint16(h, varStartID)
	h[2], h[3] = varAdded, 0
	binary.LittleEndian.PutUint32(h[4:], attrs)
	binary.LittleEndian.PutUint64(h[8:], 0) // MonotonicCount: unused by time-based variables
	copy(h[16:32], timeStamp[:])
	binary.LittleEndian.PutUint32(h[32:], 0) // PubKeyIndex
	binary.LittleEndian.PutUint32(h[36:], uint32(len(nameBytes)))
	binary.LittleEndian.PutUint32(h[40:], uint32(len(data)))
	copy(h[44:60], vendor[:])
	copy(h[varHeaderSize:], nameBytes)
	copy(h[varHeaderSize+len(nameBytes):], data)
	s.free = alignUp(s.free+need, headerAlign)
	return nil
}

// Bytes returns the store file.
func (s *Store) Bytes() []byte { return s.b }

// Enroll writes the key set in dir (PK.auth, KEK.auth, db.auth, as
// secureboot.Create makes them) into the store: PK, KEK and db with the
// signature lists and time stamps of the updates, Secure Boot enabled and
// custom mode off. The updates' signatures are checked against their
// parents' certificates first, as firmware in setup mode would.
func (s *Store) Enroll(dir string) error {
	certs := map[string][]byte{}
	ups := map[string]*secureboot.Update{}
	for _, n := range secureboot.KeyNames {
		b, err := os.ReadFile(filepath.Join(dir, n+".auth"))
		if err != nil {
			return fmt.Errorf("%w; make a key set with tbcompose keys create %s", err, dir)
		}
		u, err := secureboot.ParseAuth(n, secureboot.VendorOf(n), b)
		if err != nil {
			return fmt.Errorf("%s.auth: %w", filepath.Join(dir, n), err)
		}
		sigs, err := secureboot.ParseSignatureLists(u.Data)
		if err != nil || len(sigs) == 0 {
			return fmt.Errorf("%s.auth: no signature list: %v", filepath.Join(dir, n), err)
		}
		certs[n], ups[n] = sigs[0].Data, u
	}
	parent := map[string]string{"PK": "PK", "KEK": "PK", "db": "KEK"}
	for _, n := range secureboot.KeyNames {
		if err := ups[n].Verify(certs[parent[n]]); err != nil {
			return fmt.Errorf("%s.auth is not signed by %s: %w", filepath.Join(dir, n), parent[n], err)
		}
	}
	// db before KEK before PK: the order a firmware in setup mode needs,
	// since enrolling PK ends setup mode.
	for _, n := range []string{"db", "KEK", "PK"} {
		u := ups[n]
		if err := s.Set(n, u.Vendor, u.Attributes, u.EFITime(), u.Data); err != nil {
			return err
		}
	}
	if err := s.Set("SecureBootEnable", secureBootEnableGUID, secureboot.AttrNonVolatile|secureboot.AttrBootserviceAccess, [16]byte{}, []byte{1}); err != nil {
		return err
	}
	return s.Set("CustomMode", customModeGUID, secureboot.AttrNonVolatile|secureboot.AttrBootserviceAccess, [16]byte{}, []byte{0})
}

func alignUp(v, a int) int { return (v + a - 1) &^ (a - 1) }
