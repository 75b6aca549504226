package log

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gregor-broker/gregor/broker/log/vfs"
)

const metaPropertiesFile = "meta.properties"

// MetaProperties is a log dir's identity file, as a ZooKeeper-mode Kafka broker writes it
// (Java properties text: version=0, broker.id, cluster.id).
type MetaProperties struct {
	Version   int
	BrokerID  int32
	ClusterID string
}

func readMetaProperties(fs vfs.FS, dir string) (MetaProperties, bool, error) {
	path := filepath.Join(dir, metaPropertiesFile)
	data, err := readFile(fs, path)
	if os.IsNotExist(err) {
		return MetaProperties{}, false, nil
	}
	if err != nil {
		return MetaProperties{}, false, err
	}
	mp, err := parseMetaProperties(path, data)
	return mp, true, err
}

// parseMetaProperties reads meta.properties' bytes (Java properties: key=value lines, # comments);
// path names the file in errors.
func parseMetaProperties(path string, data []byte) (MetaProperties, error) {
	mp := MetaProperties{BrokerID: -1}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "version":
			mp.Version, _ = strconv.Atoi(strings.TrimSpace(v))
		case "broker.id":
			id, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
			if err != nil {
				return mp, fmt.Errorf("%s: bad broker.id %q", path, v)
			}
			mp.BrokerID = int32(id)
		case "cluster.id":
			mp.ClusterID = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return mp, fmt.Errorf("%s: %w", path, err)
	}
	return mp, nil
}

func writeMetaProperties(fs vfs.FS, dir string, mp MetaProperties, now time.Time) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "#\n#%s\n", now.UTC().Format("Mon Jan 02 15:04:05 MST 2006"))
	fmt.Fprintf(&b, "cluster.id=%s\nversion=%d\nbroker.id=%d\n", mp.ClusterID, mp.Version, mp.BrokerID)
	return writeFileAtomic(fs, filepath.Join(dir, metaPropertiesFile), b.Bytes())
}
