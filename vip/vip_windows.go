package vip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Manager adds and removes the VIPs of one interface through the IP Helper
// API. The interface is named as ipconfig and the adapter settings show it
// ("Ethernet 2"). A Manager is safe for concurrent use. WithNamespace has
// no effect on Windows.
type Manager struct {
	helperManager
}

// New returns a Manager for the interface ifname. The interface does not
// need to exist yet.
func New(ifname string, opts ...Option) *Manager {
	o := buildOptions(opts)
	return &Manager{newHelperManager(ifname, iphlpapi{}, o.logger)}
}

// The IP Helper functions that golang.org/x/sys/windows does not bind.
// Everything else (the address table, the notifications) comes from there.
var (
	modiphlpapi                         = windows.NewLazySystemDLL("iphlpapi.dll")
	procInitializeUnicastIpAddressEntry = modiphlpapi.NewProc("InitializeUnicastIpAddressEntry")
	procCreateUnicastIpAddressEntry     = modiphlpapi.NewProc("CreateUnicastIpAddressEntry")
	procDeleteUnicastIpAddressEntry     = modiphlpapi.NewProc("DeleteUnicastIpAddressEntry")
	procSetUnicastIpAddressEntry        = modiphlpapi.NewProc("SetUnicastIpAddressEntry")
)

// Origins of a manually configured address (NL_PREFIX_ORIGIN,
// NL_SUFFIX_ORIGIN), as netsh and the adapter settings dialog set them.
const (
	ipPrefixOriginManual = 1
	ipSuffixOriginManual = 1
)

// iphlpapi is the real ipHelper.
type iphlpapi struct{}

// Interface finds the interface by its alias with the standard library,
// which lists adapters with GetAdaptersAddresses and names them by their
// friendly name. The name must match exactly, as net.InterfaceByName
// (which the daemon's announcer uses) wants it. A disabled adapter is not
// listed: it is reported missing.
func (iphlpapi) Interface(name string) (ifaceInfo, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return ifaceInfo{}, err
	}
	for _, ifi := range ifs {
		if ifi.Name == name {
			return ifaceInfo{
				Index:        uint32(ifi.Index),
				Up:           ifi.Flags&net.FlagRunning != 0,
				HardwareAddr: ifi.HardwareAddr,
			}, nil
		}
	}
	return ifaceInfo{}, ErrNoLink
}

// ipDadStateDuplicate is the NL_DAD_STATE of an address another machine
// uses.
const ipDadStateDuplicate = 2

func (iphlpapi) Addresses(index uint32) ([]addrInfo, error) {
	var table *windows.MibUnicastIpAddressTable
	if err := windows.GetUnicastIpAddressTable(windows.AF_UNSPEC, &table); err != nil {
		return nil, fmt.Errorf("GetUnicastIpAddressTable: %w", err)
	}
	defer windows.FreeMibTable(unsafe.Pointer(table))
	rows := unsafe.Slice(&table.Table[0], table.NumEntries)
	var out []addrInfo
	for i := range rows {
		r := &rows[i]
		if r.InterfaceIndex != index {
			continue
		}
		a, ok := rowAddr(r)
		if !ok || int(r.OnLinkPrefixLength) > a.BitLen() {
			continue
		}
		out = append(out, addrInfo{
			Prefix:    netip.PrefixFrom(a, int(r.OnLinkPrefixLength)),
			Duplicate: r.DadState == ipDadStateDuplicate,
		})
	}
	return out, nil
}

// rowAddr reads the SOCKADDR_INET union of a row.
func rowAddr(r *windows.MibUnicastIpAddressRow) (netip.Addr, bool) {
	switch r.Address.Family {
	case windows.AF_INET:
		sa := (*windows.RawSockaddrInet4)(unsafe.Pointer(&r.Address))
		return netip.AddrFrom4(sa.Addr), true
	case windows.AF_INET6:
		return netip.AddrFrom16(r.Address.Addr), true
	}
	return netip.Addr{}, false
}

// setRowAddr writes a into the SOCKADDR_INET union of a row.
func setRowAddr(r *windows.MibUnicastIpAddressRow, a netip.Addr) {
	if a.Is4() {
		sa := (*windows.RawSockaddrInet4)(unsafe.Pointer(&r.Address))
		*sa = windows.RawSockaddrInet4{Family: windows.AF_INET, Addr: a.As4()}
		return
	}
	r.Address = windows.RawSockaddrInet6{Family: windows.AF_INET6, Addr: a.As16()}
}

func (iphlpapi) CreateUnicast(index uint32, p netip.Prefix, lifetime uint32) error {
	var row windows.MibUnicastIpAddressRow
	// Everything but the lifetimes left to the system (DAD included:
	// Windows probes and announces the address itself).
	syscallN(procInitializeUnicastIpAddressEntry, uintptr(unsafe.Pointer(&row)))
	setRowAddr(&row, p.Addr())
	row.InterfaceIndex = index
	row.ValidLifetime, row.PreferredLifetime = lifetime, lifetime
	row.OnLinkPrefixLength = uint8(p.Bits())
	row.SkipAsSource = 1
	row.PrefixOrigin = ipPrefixOriginManual
	row.SuffixOrigin = ipSuffixOriginManual
	err := errno(syscallN(procCreateUnicastIpAddressEntry, uintptr(unsafe.Pointer(&row))))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, windows.ERROR_OBJECT_ALREADY_EXISTS):
		return errAddrExists
	case errors.Is(err, windows.ERROR_FILE_NOT_FOUND):
		return fmt.Errorf("CreateUnicastIpAddressEntry: %w (%w)", ErrNoLink, err)
	}
	return fmt.Errorf("CreateUnicastIpAddressEntry: %w", err)
}

// SetLifetime reads the address's row, as SetUnicastIpAddressEntry
// wants, and writes it back with the new lifetimes.
func (iphlpapi) SetLifetime(index uint32, p netip.Prefix, lifetime uint32) error {
	var row windows.MibUnicastIpAddressRow
	setRowAddr(&row, p.Addr())
	row.InterfaceIndex = index
	err := windows.GetUnicastIpAddressEntry(&row)
	switch {
	case err == nil:
	case errors.Is(err, windows.ERROR_NOT_FOUND):
		return errAddrNotFound
	case errors.Is(err, windows.ERROR_FILE_NOT_FOUND):
		return fmt.Errorf("GetUnicastIpAddressEntry: %w (%w)", ErrNoLink, err)
	default:
		return fmt.Errorf("GetUnicastIpAddressEntry: %w", err)
	}
	if int(row.OnLinkPrefixLength) != p.Bits() {
		return fmt.Errorf("%w (/%d)", ErrAddrConflict, row.OnLinkPrefixLength)
	}
	row.ValidLifetime, row.PreferredLifetime = lifetime, lifetime
	err = errno(syscallN(procSetUnicastIpAddressEntry, uintptr(unsafe.Pointer(&row))))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, windows.ERROR_NOT_FOUND):
		return errAddrNotFound
	case errors.Is(err, windows.ERROR_FILE_NOT_FOUND):
		return fmt.Errorf("SetUnicastIpAddressEntry: %w (%w)", ErrNoLink, err)
	}
	return fmt.Errorf("SetUnicastIpAddressEntry: %w", err)
}

func (iphlpapi) DeleteUnicast(index uint32, p netip.Prefix) error {
	var row windows.MibUnicastIpAddressRow
	setRowAddr(&row, p.Addr())
	row.InterfaceIndex = index
	err := errno(syscallN(procDeleteUnicastIpAddressEntry, uintptr(unsafe.Pointer(&row))))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, windows.ERROR_NOT_FOUND):
		return errAddrNotFound
	case errors.Is(err, windows.ERROR_FILE_NOT_FOUND):
		return fmt.Errorf("DeleteUnicastIpAddressEntry: %w (%w)", ErrNoLink, err)
	}
	return fmt.Errorf("DeleteUnicastIpAddressEntry: %w", err)
}

// syscallN calls an IP Helper function; they return a Win32 error code.
func syscallN(p *windows.LazyProc, args ...uintptr) uintptr {
	if err := p.Find(); err != nil {
		return uintptr(windows.ERROR_PROC_NOT_FOUND)
	}
	r, _, _ := p.Call(args...)
	return r
}

func errno(r uintptr) error {
	if r == 0 {
		return nil
	}
	return windows.Errno(r)
}

// Notifications. windows.NewCallback makes callbacks that are never freed
// (and there is a limit on how many a process may make), so there is one
// pair for the process, made once, which hands every notification to
// every registered queue; each watcher filters by interface index.
var notify struct {
	once    sync.Once
	addrCB  uintptr
	ifaceCB uintptr
	mu      sync.Mutex
	queues  map[*changeQueue]bool
	addrH   windows.Handle
	ifaceH  windows.Handle
}

func addrCallback(_ uintptr, row *windows.MibUnicastIpAddressRow, typ uint32) uintptr {
	if row == nil {
		return 0
	}
	a, ok := rowAddr(row)
	if !ok {
		return 0
	}
	c := ipChange{Index: row.InterfaceIndex, Addr: a}
	switch typ {
	case windows.MibAddInstance:
		c.Kind = changeAddrAdded
	case windows.MibDeleteInstance:
		c.Kind = changeAddrDeleted
	case windows.MibParameterNotification:
		c.Kind = changeAddrChanged
	default:
		return 0
	}
	deliver(c)
	return 0
}

func ifaceCallback(_ uintptr, row *windows.MibIpInterfaceRow, _ uint32) uintptr {
	c := ipChange{Kind: changeInterface}
	if row != nil {
		c.Index = row.InterfaceIndex
	}
	deliver(c)
	return 0
}

func deliver(c ipChange) {
	notify.mu.Lock()
	defer notify.mu.Unlock()
	for q := range notify.queues {
		q.put(c)
	}
}

// Notify registers q. The first registration asks Windows for address and
// interface notifications; the last stop cancels them.
func (iphlpapi) Notify(q *changeQueue) (func(), error) {
	notify.once.Do(func() {
		notify.addrCB = windows.NewCallback(addrCallback)
		notify.ifaceCB = windows.NewCallback(ifaceCallback)
		notify.queues = map[*changeQueue]bool{}
	})
	notify.mu.Lock()
	defer notify.mu.Unlock()
	if len(notify.queues) == 0 {
		if err := windows.NotifyUnicastIpAddressChange(windows.AF_UNSPEC, notify.addrCB, nil, false, &notify.addrH); err != nil {
			return nil, fmt.Errorf("NotifyUnicastIpAddressChange: %w", err)
		}
		if err := windows.NotifyIpInterfaceChange(windows.AF_UNSPEC, notify.ifaceCB, nil, false, &notify.ifaceH); err != nil {
			windows.CancelMibChangeNotify2(notify.addrH)
			return nil, fmt.Errorf("NotifyIpInterfaceChange: %w", err)
		}
	}
	notify.queues[q] = true
	var once sync.Once
	return func() { once.Do(func() { unregister(q) }) }, nil
}

func unregister(q *changeQueue) {
	notify.mu.Lock()
	delete(notify.queues, q)
	last := len(notify.queues) == 0
	addrH, ifaceH := notify.addrH, notify.ifaceH
	notify.mu.Unlock()
	if last {
		// Outside the lock: CancelMibChangeNotify2 waits for running
		// callbacks, which take it.
		windows.CancelMibChangeNotify2(addrH)
		windows.CancelMibChangeNotify2(ifaceH)
	}
}
