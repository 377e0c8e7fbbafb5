package segment_test

import (
	"fmt"
	"log"
	"os"

	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

// A process attached to a segment that looks at the segment's file by
// other means closes what it opened with CloseFile: on OpenBSD, closing
// any descriptor of the file would end the attachment in the eyes of
// every other process.
func ExampleCloseFile() {
	dir, err := os.MkdirTemp("", "posixshm-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	d := posixshm.Dir(dir)
	s, err := segment.Create("/watched", 64, &segment.Options{Layout: d})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	f, err := d.Open("/watched", os.O_RDONLY, 0)
	if err != nil {
		log.Fatal(err)
	}
	u, err := segment.Users(f)
	segment.CloseFile(f) // not f.Close(): kept open until s is closed
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("attached:", u.Count())
	// Output:
	// attached: 1
}
