package stripefake

import (
	"bytes"
	"cmp"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// record is what a list holds: Stripe lists newest first by created, and
// the fake breaks ties by id, descending.
type record interface {
	key() (created int64, id string)
}

// listOrder compares a and b in list order: negative when a comes first.
func listOrder(aCreated int64, aID string, bCreated int64, bID string) int {
	return cmp.Or(cmp.Compare(bCreated, aCreated), cmp.Compare(bID, aID))
}

// collection holds one resource's records by id and in list order. Adding
// many records sorts once, at the next listing.
type collection[R record] struct {
	byID   map[string]R
	sorted []R
	dirty  bool
}

func newCollection[R record]() collection[R] {
	return collection[R]{byID: map[string]R{}}
}

// put adds r, or replaces the record with its id.
func (c *collection[R]) put(r R) {
	_, id := r.key()
	if old, ok := c.byID[id]; ok {
		i := slices.IndexFunc(c.sorted, func(x R) bool { return any(x) == any(old) })
		c.sorted[i] = r
	} else {
		c.sorted = append(c.sorted, r)
	}
	c.byID[id] = r
	c.dirty = true
}

func (c *collection[R]) ordered() []R {
	if c.dirty {
		slices.SortFunc(c.sorted, func(a, b R) int {
			ac, aid := a.key()
			bc, bid := b.key()
			return listOrder(ac, aid, bc, bid)
		})
		c.dirty = false
	}
	return c.sorted
}

// listQuery is what every list endpoint reads from its query.
type listQuery struct {
	limit         int
	startingAfter string
	endingBefore  string
	// createdMin and createdMax bound created, inclusive.
	createdMin, createdMax int64
	expand                 []string
	values                 url.Values
}

const (
	defaultLimit = 10
	maxLimit     = 100
)

func parseListQuery(v url.Values) (listQuery, *apiError) {
	q := listQuery{limit: defaultLimit, createdMin: math.MinInt64, createdMax: math.MaxInt64,
		expand: arrayParam(v, "expand"), values: v}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return q, invalidRequest(http.StatusBadRequest, "parameter_invalid_integer", "limit", "Invalid integer: %s", s)
		}
		if n < 1 || n > maxLimit {
			return q, invalidRequest(http.StatusBadRequest, "parameter_invalid_integer", "limit",
				"This value must be greater than or equal to 1 and less than or equal to %d.", maxLimit)
		}
		q.limit = n
	}
	q.startingAfter, q.endingBefore = v.Get("starting_after"), v.Get("ending_before")
	if q.startingAfter != "" && q.endingBefore != "" {
		return q, invalidRequest(http.StatusBadRequest, "", "ending_before",
			"You may only specify one of these parameters: ending_before, starting_after.")
	}
	for _, b := range []struct {
		param string
		apply func(n int64)
	}{
		{"created", func(n int64) { q.createdMin, q.createdMax = max(q.createdMin, n), min(q.createdMax, n) }},
		{"created[gte]", func(n int64) { q.createdMin = max(q.createdMin, n) }},
		{"created[gt]", func(n int64) { q.createdMin = max(q.createdMin, n+1) }},
		{"created[lte]", func(n int64) { q.createdMax = min(q.createdMax, n) }},
		{"created[lt]", func(n int64) { q.createdMax = min(q.createdMax, n-1) }},
	} {
		s := v.Get(b.param)
		if s == "" {
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return q, invalidRequest(http.StatusBadRequest, "parameter_invalid_integer", b.param, "Invalid integer: %s", s)
		}
		b.apply(n)
	}
	return q, nil
}

// arrayParam reads an array parameter in any of the forms Stripe accepts:
// name[]=a, name[0]=a (stripe-go's), or name=a.
func arrayParam(v url.Values, name string) []string {
	type item struct {
		index int
		value string
	}
	var items []item
	for k, vals := range v {
		rest, ok := strings.CutPrefix(k, name)
		if !ok {
			continue
		}
		index := -1 // name[] and name keep their own order, after indexed ones
		switch {
		case rest == "" || rest == "[]":
		case strings.HasPrefix(rest, "[") && strings.HasSuffix(rest, "]"):
			n, err := strconv.Atoi(rest[1 : len(rest)-1])
			if err != nil {
				continue
			}
			index = n
		default:
			continue
		}
		for _, s := range vals {
			items = append(items, item{index, s})
		}
	}
	slices.SortStableFunc(items, func(a, b item) int { return cmp.Compare(uint(a.index), uint(b.index)) })
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.value
	}
	return out
}

// page selects one page of a collection, in list order: the records within
// the created bounds that match, after startingAfter or before endingBefore,
// at most limit of them, and whether more match in the direction of paging.
// object names the resource in the error for an unknown cursor.
func page[R record](c *collection[R], q listQuery, object string, match func(R) bool) ([]R, bool, *apiError) {
	all := c.ordered()
	// List order is created descending, so the created bounds are one run.
	lo := sort.Search(len(all), func(i int) bool { created, _ := all[i].key(); return created <= q.createdMax })
	hi := sort.Search(len(all), func(i int) bool { created, _ := all[i].key(); return created < q.createdMin })
	position := func(param, id string) (int, *apiError) {
		r, ok := c.byID[id]
		if !ok {
			return 0, invalidRequest(http.StatusBadRequest, "resource_missing", param, "No such %s: '%s'", object, id)
		}
		created, _ := r.key()
		i, _ := slices.BinarySearchFunc(all, r, func(x, target R) int {
			xc, xid := x.key()
			return listOrder(xc, xid, created, id)
		})
		return i, nil
	}
	var out []R
	if q.endingBefore != "" {
		end, err := position("ending_before", q.endingBefore)
		if err != nil {
			return nil, false, err
		}
		for i := min(end, hi) - 1; i >= lo; i-- {
			if match(all[i]) {
				if len(out) == q.limit {
					slices.Reverse(out)
					return out, true, nil
				}
				out = append(out, all[i])
			}
		}
		slices.Reverse(out)
		return out, false, nil
	}
	start := lo
	if q.startingAfter != "" {
		p, err := position("starting_after", q.startingAfter)
		if err != nil {
			return nil, false, err
		}
		start = max(start, p+1)
	}
	for i := start; i < hi; i++ {
		if match(all[i]) {
			if len(out) == q.limit {
				return out, true, nil
			}
			out = append(out, all[i])
		}
	}
	return out, false, nil
}

// renderList writes a list object of n items, each written by item.
func renderList(b *bytes.Buffer, path string, hasMore bool, n int, item func(i int)) {
	b.WriteString(`{"object":"list","data":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		item(i)
	}
	b.WriteString(`],"has_more":`)
	b.WriteString(strconv.FormatBool(hasMore))
	b.WriteString(`,"url":`)
	b.Write(jsonString(path))
	b.WriteByte('}')
}

// pageBuffer is a buffer for a page of n objects of about size bytes each,
// grown once.
func pageBuffer(n, size int) *bytes.Buffer {
	return bytes.NewBuffer(make([]byte, 0, 64+n*size))
}
