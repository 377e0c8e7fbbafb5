package posixshm_test

import (
	"errors"
	"fmt"
	"io/fs"
	"log"
	"os"

	"github.com/posixshm/posixshm/posixshm"
)

// An object that must never be seen half made, by C programs that open it
// with shm_open either: build it first, then give it its name.
func ExampleCreateUnnamed() {
	dir, err := os.MkdirTemp("", "posixshm-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	d := posixshm.Dir(dir)

	u, err := posixshm.CreateUnnamed(d, "/config", 0o600)
	if err != nil {
		log.Fatal(err)
	}
	f := u.File()
	defer f.Close() // after Link or Remove
	if _, err := f.WriteString("version=2\n"); err != nil {
		u.Remove()
		log.Fatal(err)
	}
	_, err = d.Open("/config", os.O_RDONLY, 0)
	fmt.Println("before Link:", errors.Is(err, fs.ErrNotExist))

	if err := u.Link(); errors.Is(err, fs.ErrExist) {
		u.Remove() // somebody else created it first: use theirs
	} else if err != nil {
		log.Fatal(err)
	}
	g, err := d.Open("/config", os.O_RDONLY, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close()
	b := make([]byte, 10)
	g.Read(b)
	fmt.Printf("after Link: %q\n", b)
	// Output:
	// before Link: true
	// after Link: "version=2\n"
}
