package deb

// Parallel xz decoding.
//
// Why: Debian's kernel data.tar.xz is 67 MiB holding 392 MiB in 17
// independent 24 MiB xz blocks. ulikunitz/xz decodes it in ~13 s on one
// core where xz(1) needs ~5.5 s; on a cold build that is the longest
// single step. Blocks of an xz stream are independent (each LZMA2 block
// starts with a dictionary reset), and the index at the end of the stream
// says where each block is and how big it unpacks, so with random access
// (io.ReaderAt) the blocks can be decoded concurrently and emitted in order.
//
// How: parseXZIndex walks the streams backwards from the end (footer,
// index, header) and lists every block's offset and sizes. Each block is
// then decoded by ulikunitz/xz itself, fed a synthetic single-block stream:
// the original stream header, the block's bytes, and a one-record index
// and footer built from the original index. That way the library parses
// the block header and filters, verifies the block's check (CRC32/CRC64/
// SHA-256), and verifies the block's unpadded and uncompressed sizes
// against the original index; we do not reimplement any of it.
//
// Memory is bounded: at most workers+1 blocks are in flight (decoding or
// waiting to be read), and blocks claiming more than maxParallelBlock bytes
// fall back to the sequential decoder.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sync"

	"github.com/ulikunitz/xz"
)

const (
	xzHeaderMagic = "\xfd7zXZ\x00"
	xzFooterMagic = "YZ"
	xzStreamLen   = 12 // header and footer are both 12 bytes
	// maxParallelBlock bounds one block's buffer; xz(1) -T makes blocks of
	// 3x the dictionary, 24 MiB at -6, so 64 MiB leaves ample room.
	maxParallelBlock = 64 << 20
	// maxXZIndex bounds the index we are willing to read (16 bytes per
	// record at most, so this allows a million blocks).
	maxXZIndex = 16 << 20
)

var errNotParallel = errors.New("xz stream not suited to parallel decoding")

// xzBlock is one block as described by its stream's index.
type xzBlock struct {
	offset       int64 // of the block header, in the compressed file
	unpadded     int64 // header + compressed data + check, without padding
	uncompressed int64
	flags        [2]byte // stream flags (check type) of its stream
}

// parseXZIndex lists the blocks of all streams in r, in order.
func parseXZIndex(r io.ReaderAt, size int64) ([]xzBlock, error) {
	var all [][]xzBlock
	pos := size
	for pos > 0 {
		// Stream padding: zero bytes in multiples of four between and
		// after streams.
		var word [4]byte
		for pad := 0; ; pad += 4 {
			if pos < 4 || pad > 1<<20 {
				return nil, errNotParallel
			}
			if _, err := r.ReadAt(word[:], pos-4); err != nil {
				return nil, err
			}
			if word != [4]byte{} {
				break
			}
			pos -= 4
		}
		if pos < 2*xzStreamLen {
			return nil, errNotParallel
		}
		var foot [xzStreamLen]byte
		if _, err := r.ReadAt(foot[:], pos-xzStreamLen); err != nil {
			return nil, err
		}
		if string(foot[10:]) != xzFooterMagic || crc32.ChecksumIEEE(foot[4:10]) != binary.LittleEndian.Uint32(foot[:4]) {
			return nil, errNotParallel
		}
		indexSize := (int64(binary.LittleEndian.Uint32(foot[4:8])) + 1) * 4
		indexStart := pos - xzStreamLen - indexSize
		if indexSize > maxXZIndex || indexStart < xzStreamLen {
			return nil, errNotParallel
		}
		index := make([]byte, indexSize)
		if _, err := r.ReadAt(index, indexStart); err != nil {
			return nil, err
		}
		records, err := parseIndexRecords(index)
		if err != nil {
			return nil, err
		}
		var blocksLen int64
		for _, rec := range records {
			blocksLen += (rec[0] + 3) &^ 3
		}
		start := indexStart - blocksLen - xzStreamLen
		if blocksLen < 0 || start < 0 {
			return nil, errNotParallel
		}
		var head [xzStreamLen]byte
		if _, err := r.ReadAt(head[:], start); err != nil {
			return nil, err
		}
		if string(head[:6]) != xzHeaderMagic || crc32.ChecksumIEEE(head[6:8]) != binary.LittleEndian.Uint32(head[8:12]) ||
			head[6] != foot[8] || head[7] != foot[9] {
			return nil, errNotParallel
		}
		blocks := make([]xzBlock, len(records))
		off := start + xzStreamLen
		for i, rec := range records {
			blocks[i] = xzBlock{offset: off, unpadded: rec[0], uncompressed: rec[1], flags: [2]byte{head[6], head[7]}}
			off += (rec[0] + 3) &^ 3
		}
		all = append(all, blocks)
		pos = start
	}
	var out []xzBlock
	for i := len(all) - 1; i >= 0; i-- {
		out = append(out, all[i]...)
	}
	return out, nil
}

// parseIndexRecords decodes an xz index: indicator 0, record count,
// (unpadded, uncompressed) varint pairs, zero padding, CRC32.
func parseIndexRecords(index []byte) ([][2]int64, error) {
	n := len(index)
	if n < 8 || index[0] != 0 || crc32.ChecksumIEEE(index[:n-4]) != binary.LittleEndian.Uint32(index[n-4:]) {
		return nil, errNotParallel
	}
	body := index[1 : n-4]
	count, k := binary.Uvarint(body)
	if k <= 0 || count > uint64(len(body)/2) {
		return nil, errNotParallel
	}
	body = body[k:]
	records := make([][2]int64, count)
	for i := range records {
		for j := 0; j < 2; j++ {
			v, k := binary.Uvarint(body)
			if k <= 0 || k > 9 || v > 1<<62 {
				return nil, errNotParallel
			}
			records[i][j] = int64(v)
			body = body[k:]
		}
		if records[i][0] == 0 {
			return nil, errNotParallel
		}
	}
	for _, b := range body {
		if b != 0 || len(body) > 3 {
			return nil, errNotParallel
		}
	}
	return records, nil
}

// singleBlockStream wraps one block in a stream of its own: header,
// block, and an index and footer holding just that block's record.
func singleBlockStream(r io.ReaderAt, b xzBlock) io.Reader {
	head := make([]byte, 0, xzStreamLen)
	head = append(head, xzHeaderMagic...)
	head = append(head, b.flags[:]...)
	head = binary.LittleEndian.AppendUint32(head, crc32.ChecksumIEEE(b.flags[:]))

	index := []byte{0, 1}
	index = binary.AppendUvarint(index, uint64(b.unpadded))
	index = binary.AppendUvarint(index, uint64(b.uncompressed))
	for len(index)%4 != 0 {
		index = append(index, 0)
	}
	index = binary.LittleEndian.AppendUint32(index, crc32.ChecksumIEEE(index))
	var foot [10]byte
	binary.LittleEndian.PutUint32(foot[4:8], uint32(len(index)/4-1))
	copy(foot[8:], b.flags[:])
	binary.LittleEndian.PutUint32(foot[:4], crc32.ChecksumIEEE(foot[4:10]))
	tail := append(index, foot[:]...)
	tail = append(tail, xzFooterMagic...)

	body := io.NewSectionReader(r, b.offset, (b.unpadded+3)&^3)
	return io.MultiReader(bytes.NewReader(head), body, bytes.NewReader(tail))
}

// parallelXZ is an io.ReadCloser emitting the blocks in order while up to
// workers of them decode in the background.
type parallelXZ struct {
	blocks  []xzBlock
	results []chan blockResult // one per block, buffered so decoders never block
	tokens  chan struct{}      // bounds blocks in flight
	free    chan []byte        // recycled block buffers
	stop    chan struct{}
	wg      sync.WaitGroup

	next    int    // index of the next block to take from results
	block   []byte // the block being read, for recycling
	cur     []byte // its unread part
	holding bool   // whether the current block's token is still held
	err     error
	once    sync.Once
}

type blockResult struct {
	data []byte
	err  error
}

// newParallelXZ starts decoding the xz file r of the given size on
// workers goroutines. It returns errNotParallel (or a read error) when the
// file is not a multi-block xz stream we can split.
func newParallelXZ(r io.ReaderAt, size int64, workers int) (*parallelXZ, error) {
	blocks, err := parseXZIndex(r, size)
	if err != nil {
		return nil, err
	}
	if len(blocks) < 2 {
		return nil, errNotParallel
	}
	for _, b := range blocks {
		if b.uncompressed > maxParallelBlock {
			return nil, errNotParallel
		}
	}
	p := &parallelXZ{
		blocks:  blocks,
		results: make([]chan blockResult, len(blocks)),
		tokens:  make(chan struct{}, workers+1),
		free:    make(chan []byte, workers+1),
		stop:    make(chan struct{}),
	}
	for i := range p.results {
		p.results[i] = make(chan blockResult, 1)
	}
	p.wg.Add(1)
	go p.dispatch(r, workers)
	return p, nil
}

// dispatch starts one decoder per block as tokens become available. With
// workers+1 tokens, all workers stay busy while the reader drains one.
func (p *parallelXZ) dispatch(r io.ReaderAt, workers int) {
	defer p.wg.Done()
	running := make(chan struct{}, workers)
	for i := range p.blocks {
		select {
		case p.tokens <- struct{}{}:
		case <-p.stop:
			return
		}
		select {
		case running <- struct{}{}:
		case <-p.stop:
			return
		}
		p.wg.Add(1)
		go func(i int) {
			defer p.wg.Done()
			data, err := p.decode(r, p.blocks[i])
			<-running
			p.results[i] <- blockResult{data, err}
		}(i)
	}
}

func (p *parallelXZ) decode(r io.ReaderAt, b xzBlock) ([]byte, error) {
	var buf []byte
	select {
	case buf = <-p.free:
	default:
	}
	if int64(cap(buf)) < b.uncompressed {
		buf = make([]byte, b.uncompressed)
	}
	buf = buf[:b.uncompressed]
	src := &stoppable{r: singleBlockStream(r, b), stop: p.stop}
	zr, err := xz.ReaderConfig{SingleStream: true}.NewReader(bufio.NewReaderSize(src, 1<<16))
	if err != nil {
		return nil, fmt.Errorf("xz block at offset %d: %w", b.offset, noEOF(err))
	}
	if _, err := io.ReadFull(zr, buf); err != nil {
		return nil, fmt.Errorf("xz block at offset %d: %w", b.offset, noEOF(err))
	}
	// Reading to EOF makes the library check the block's padding and
	// check field, and the sizes against the index record.
	var one [1]byte
	if n, err := zr.Read(one[:]); n != 0 || err != io.EOF {
		if err == nil || err == io.EOF {
			err = errors.New("more data than the index says")
		}
		return nil, fmt.Errorf("xz block at offset %d: %w", b.offset, err)
	}
	return buf, nil
}

// Read implements io.Reader.
func (p *parallelXZ) Read(out []byte) (int, error) {
	for len(p.cur) == 0 {
		if p.err != nil {
			return 0, p.err
		}
		if p.holding {
			p.release()
		}
		if p.next == len(p.blocks) {
			p.err = io.EOF
			return 0, io.EOF
		}
		res := <-p.results[p.next]
		p.next++
		p.holding = true
		if res.err != nil {
			p.err = res.err
			return 0, res.err
		}
		p.block, p.cur = res.data, res.data
	}
	n := copy(out, p.cur)
	p.cur = p.cur[n:]
	return n, nil
}

// release hands the drained block's buffer and token back.
func (p *parallelXZ) release() {
	p.holding = false
	if p.block != nil {
		select {
		case p.free <- p.block[:0]:
		default:
		}
		p.block = nil
	}
	<-p.tokens
}

// Close stops the decoders and waits for them to exit.
func (p *parallelXZ) Close() error {
	p.once.Do(func() {
		close(p.stop)
		p.wg.Wait()
	})
	p.cur = nil
	if p.err == nil || p.err == io.EOF {
		p.err = errStopped
	}
	return nil
}

// stoppable ends a decoder's input early once the reader is closed, so
// Close does not wait for whole blocks to finish decoding.
type stoppable struct {
	r    io.Reader
	stop chan struct{}
}

var errStopped = errors.New("xz: reader closed")

func (s *stoppable) Read(b []byte) (int, error) {
	select {
	case <-s.stop:
		return 0, errStopped
	default:
		return s.r.Read(b)
	}
}
