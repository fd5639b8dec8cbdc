package opensearch

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
)

// uuid is the cluster's UUID as root info shows it.
func (n *Node) uuid() string {
	if n.cluster != nil {
		return n.cluster.uuid()
	}
	return n.clusterUUID
}

// roleLetters abbreviates roles as _cat/nodes' node.role does.
func roleLetters(roles []string) string {
	var b []byte
	for _, r := range roles {
		switch r {
		case "cluster_manager", "master":
			b = append(b, 'm')
		case "data":
			b = append(b, 'd')
		case "ingest":
			b = append(b, 'i')
		case "remote_cluster_client":
			b = append(b, 'r')
		}
	}
	sort.Slice(b, func(i, j int) bool { return b[i] < b[j] })
	if len(b) == 0 {
		return "-"
	}
	return string(b)
}

// catNodes is GET _cat/nodes (?v, ?h=, ?format=json), from the cluster
// state; the stand-in's load and memory figures are placeholders.
func (n *Node) catNodes(w http.ResponseWriter, r *http.Request) {
	var nodes []nodeInfo
	managerID := ""
	if c := n.cluster; c != nil {
		nodes = c.nodes()
		managerID = c.self.ID
	} else {
		ip := "127.0.0.1"
		if len(n.addrs) > 0 && n.addrs[0] != "0.0.0.0" {
			ip = n.addrs[0]
		}
		nodes = []nodeInfo{{ID: "local", Name: n.settings.NodeName, IP: ip, Roles: n.settings.Roles}}
		managerID = "local"
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	rows := make([]map[string]string, 0, len(nodes))
	for _, m := range nodes {
		star := "-"
		if m.ID == managerID {
			star = "*"
		}
		rows = append(rows, map[string]string{"ip": m.IP, "heap.percent": "12", "ram.percent": "40", "cpu": "1", "load_1m": "0.10",
			"load_5m": "0.05", "load_15m": "0.01", "node.role": roleLetters(m.Roles), "node.roles": strings.Join(m.Roles, ","),
			"cluster_manager": star, "master": star, "name": m.Name, "id": m.ID, "node.id": m.ID})
	}
	writeCat(w, r, []string{"ip", "heap.percent", "ram.percent", "cpu", "load_1m", "load_5m", "load_15m", "node.role", "node.roles", "cluster_manager", "name"}, rows)
}

// writeCat writes a _cat answer: a table (?v for the header), or JSON
// (?format=json), of the columns in ?h (default all).
func writeCat(w http.ResponseWriter, r *http.Request, all []string, rows []map[string]string) {
	cols := all
	if h := r.URL.Query().Get("h"); h != "" {
		cols = strings.Split(h, ",")
	}
	if r.URL.Query().Get("format") == "json" {
		out := []any{}
		for _, row := range rows {
			o := obj{}
			for _, c := range cols {
				o = append(o, pair{c, row[c]})
			}
			out = append(out, o)
		}
		writeJSON(w, r, http.StatusOK, out)
		return
	}
	table := [][]string{}
	if r.URL.Query().Has("v") {
		table = append(table, cols)
	}
	for _, row := range rows {
		line := make([]string, len(cols))
		for i, c := range cols {
			line[i] = row[c]
		}
		table = append(table, line)
	}
	width := make([]int, len(cols))
	for _, line := range table {
		for i, v := range line {
			width[i] = max(width[i], len(v))
		}
	}
	var b strings.Builder
	for _, line := range table {
		for i, v := range line {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(v + strings.Repeat(" ", width[i]-len(v)))
		}
		b.WriteString("\n")
	}
	text := strings.ReplaceAll(b.String(), " \n", "\n")
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.Header().Set("Content-Length", fmt.Sprint(len(text)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		io.WriteString(w, text)
	}
}

// catIndices is GET _cat/indices[/{index}] (?format=json, ?h=), from the
// indices and their health on the cluster's data nodes.
func (n *Node) catIndices(w http.ResponseWriter, r *http.Request, names string) {
	_, dataNodes := n.dataNodes()
	s := n.store
	s.mu.Lock()
	have := s.sortedNames()
	selected := have
	if names != "" {
		var missing string
		selected, missing = resolveNames(strings.Split(names, ","), have)
		if missing != "" {
			s.mu.Unlock()
			indexNotFound(w, r, missing)
			return
		}
	}
	var rows []map[string]string
	for _, name := range selected {
		ix := s.indices[name]
		h := s.health([]string{name}, dataNodes)
		status := "open"
		if ix.Closed {
			status = "close"
		}
		size := fmt.Sprintf("%db", 208*(1+len(ix.Docs)))
		rows = append(rows, map[string]string{"health": h.Status, "status": status, "index": name, "uuid": ix.UUID,
			"pri": fmt.Sprint(ix.Shards), "rep": fmt.Sprint(ix.Replicas), "docs.count": fmt.Sprint(len(ix.Docs)), "docs.deleted": "0",
			"store.size": size, "pri.store.size": size})
	}
	s.mu.Unlock()
	writeCat(w, r, []string{"health", "status", "index", "uuid", "pri", "rep", "docs.count", "docs.deleted", "store.size", "pri.store.size"}, rows)
}
