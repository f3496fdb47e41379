package uki

import (
	"debug/pe"
	"fmt"
	"io"
)

// Image is a PE image read back, typically a UKI.
type Image struct {
	Machine     uint16 // COFF machine, pe.IMAGE_FILE_MACHINE_AMD64 for x86-64
	SizeOfImage uint32
	CheckSum    uint32
	sections    []ImageSection
}

// ImageSection is one section of an Image.
type ImageSection struct {
	Name            string
	VirtualAddress  uint32
	VirtualSize     uint32
	Offset          int64 // file offset of the section's data
	Size            int64 // bytes of data, as the systemd stub counts them
	Characteristics uint32
	r               io.ReaderAt
}

// Read parses the PE image in r. It does not require UKI sections; callers
// look them up with Section.
func Read(r io.ReaderAt) (*Image, error) {
	f, err := pe.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("parse PE image: %w", err)
	}
	defer f.Close()
	img := &Image{Machine: f.Machine}
	switch oh := f.OptionalHeader.(type) {
	case *pe.OptionalHeader64:
		img.SizeOfImage, img.CheckSum = oh.SizeOfImage, oh.CheckSum
	case *pe.OptionalHeader32:
		img.SizeOfImage, img.CheckSum = oh.SizeOfImage, oh.CheckSum
	}
	for _, s := range f.Sections {
		// The systemd stub takes VirtualSize as the payload size; the raw
		// size is that rounded up to FileAlignment. Some linkers leave
		// VirtualSize zero, and data past the raw size is not in the file.
		size := s.VirtualSize
		if size == 0 || size > s.Size {
			size = s.Size
		}
		img.sections = append(img.sections, ImageSection{
			Name:            s.Name,
			VirtualAddress:  s.VirtualAddress,
			VirtualSize:     s.VirtualSize,
			Offset:          int64(s.Offset),
			Size:            int64(size),
			Characteristics: s.Characteristics,
			r:               r,
		})
	}
	return img, nil
}

// Sections returns the image's sections in section table order.
func (img *Image) Sections() []ImageSection { return img.sections }

// Section returns the first section called name.
func (img *Image) Section(name string) (ImageSection, bool) {
	for _, s := range img.sections {
		if s.Name == name {
			return s, true
		}
	}
	return ImageSection{}, false
}

// Open returns a reader over the section's data.
func (s ImageSection) Open() *io.SectionReader {
	return io.NewSectionReader(s.r, s.Offset, s.Size)
}

// ReadAll returns the section's data.
func (s ImageSection) ReadAll() ([]byte, error) {
	b, err := io.ReadAll(s.Open())
	if err != nil {
		return nil, fmt.Errorf("read section %s: %w", s.Name, err)
	}
	if int64(len(b)) != s.Size {
		return nil, fmt.Errorf("read section %s: file ends after %d of %d bytes", s.Name, len(b), s.Size)
	}
	return b, nil
}
