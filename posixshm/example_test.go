package posixshm_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/posixshm/posixshm/posixshm"
)

// The object OpenBSD's shm_open("/myobject", ...) opens.
func ExampleDir_Path() {
	path, err := posixshm.OpenBSD.Path("/myobject")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(path)
	// The leading slash is part of the name.
	other, _ := posixshm.Dir("/tmp").Path("myobject")
	fmt.Println(path == other)
	// Output:
	// /tmp/0fefe815095b7be8d43566e90fed464569a81fcb51e196f14d8cb1015f8b8562.shm
	// false
}

// AppendPath builds the path in a caller's buffer, without allocating.
func ExampleDir_AppendPath() {
	buf := make([]byte, 0, 128)
	buf, err := posixshm.Dir("/var/shm").AppendPath(buf, "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", buf)
	// Output: /var/shm/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.shm
}

// A name holding a NUL byte has no C equivalent and is refused.
func ExampleDir_Path_nul() {
	_, err := posixshm.OpenBSD.Path("/bad\x00name")
	fmt.Println(errors.Is(err, syscall.EINVAL))
	// Output: true
}

// Create an object with OpenBSD's layout in a directory of our own, write
// it, open it again, read it back and remove it.
func ExampleDir_Open() {
	dir, err := os.MkdirTemp("", "posixshm-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	d := posixshm.Dir(dir)

	f, err := d.Open("/counter", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := f.WriteString("42"); err != nil {
		log.Fatal(err)
	}
	f.Close()

	g, err := d.Open("/counter", os.O_RDONLY, 0)
	if err != nil {
		log.Fatal(err)
	}
	b, err := io.ReadAll(g)
	g.Close()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("read %q\n", b)

	if err := d.Unlink("/counter"); err != nil {
		log.Fatal(err)
	}
	_, err = d.Open("/counter", os.O_RDONLY, 0)
	fmt.Println(strings.Replace(err.Error(), dir, "$DIR", 1))
	// Output:
	// read "42"
	// shm_open /counter: $DIR/3cbb438d03f0bbb008a8d5ceab44d48f93e8b97c9ff12a69386b1718d085b611.shm: no such file or directory
}

// Open and Unlink use this system's convention, so a C program calling
// shm_open("/posixshm-example-<pid>", ...) would see the same object: on
// Linux the file /dev/shm/posixshm-example-<pid>.
func ExampleOpen() {
	name := "/posixshm-example-" + strconv.Itoa(os.Getpid())
	f, err := posixshm.Open(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		log.Fatal(err)
	}
	defer posixshm.Unlink(name)
	defer f.Close()
	if err := f.Truncate(4096); err != nil {
		log.Fatal(err)
	}
	fi, err := f.Stat()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(fi.Size(), fi.Mode())
	// Output: 4096 -rw-------
}

// CreateTemp picks a fresh name, as shm_mkstemp(3) does.
func ExampleDir_CreateTemp() {
	dir, err := os.MkdirTemp("", "posixshm-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	f, name, err := posixshm.Dir(dir).CreateTemp("/scratch.XXXXXX")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	fmt.Println(strings.HasPrefix(name, "/scratch."), len(name))
	// Output: true 15
}

// Map gives the memory of a plain object, as Python's SharedMemory.buf
// does: here two mappings of one object, the second read-only.
func ExampleMap() {
	dir, err := os.MkdirTemp("", "posixshm-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	d := posixshm.Dir(dir)

	f, err := d.Open("/shared", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Unlink(f.Name())
	if err := f.Truncate(4096); err != nil { // an object must have a size to be mapped
		log.Fatal(err)
	}
	m, err := posixshm.Map(f)
	f.Close() // the mapping stays
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	copy(m.Bytes(), "hello")

	r, err := d.Open("/shared", os.O_RDONLY, 0)
	if err != nil {
		log.Fatal(err)
	}
	ro, err := posixshm.Map(r)
	r.Close()
	if err != nil {
		log.Fatal(err)
	}
	defer ro.Close()
	fmt.Println(string(ro.Bytes()[:5]), ro.Size(), ro.Writable())
	// Output: hello 4096 false
}

// A hot path that opens an object, maps it and closes it again has no use
// for an *os.File: OpenFd returns the descriptor, which the caller closes.
func ExampleDir_OpenFd() {
	dir, err := os.MkdirTemp("", "posixshm-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	d := posixshm.Dir(dir)

	fd, err := d.OpenFd("/counter", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		log.Fatal(err)
	}
	if err := syscall.Ftruncate(fd, 4096); err != nil {
		log.Fatal(err)
	}
	mem, err := syscall.Mmap(fd, 0, 4096, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	syscall.Close(fd) // the mapping stays
	if err != nil {
		log.Fatal(err)
	}
	defer syscall.Munmap(mem)
	mem[0] = 42

	fd, err = d.OpenFd("/counter", os.O_RDONLY, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer syscall.Close(fd)
	b := make([]byte, 1)
	if _, err := syscall.Pread(fd, b, 0); err != nil {
		log.Fatal(err)
	}
	fmt.Println(b[0])
	// Output: 42
}
