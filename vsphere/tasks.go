package vsphere

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/vmware/govmomi/task"
	"github.com/vmware/govmomi/vim25/types"
)

// Task is one task of the endpoint's task history.
type Task struct {
	Key string `json:"key"`
	// DescriptionID names the operation (VirtualMachine.powerOff,
	// host.ServiceSystem.start, …).
	DescriptionID string `json:"description_id"`
	Entity        string `json:"entity,omitempty"`
	EntityMoRef   string `json:"entity_moref,omitempty"`
	EntityType    string `json:"entity_type,omitempty"`
	// State is queued, running, success or error.
	State string `json:"state"`
	// User started the task (empty for system tasks); Reason says who or
	// what otherwise: user, system, alarm or schedule.
	User      string     `json:"user,omitempty"`
	Reason    string     `json:"reason"`
	Queued    time.Time  `json:"queued"`
	Started   *time.Time `json:"started,omitempty"`
	Completed *time.Time `json:"completed,omitempty"`
	Cancelled bool       `json:"cancelled,omitempty"`
	Error     string     `json:"error,omitempty"`
	ChainID   int32      `json:"event_chain_id"`
}

// Tasks reads the tasks of the scope's hosts and VMs (or of everything)
// queued in its period (by default the DefaultDays up to now), oldest
// first. It changes nothing on the endpoint.
func (c *Client) Tasks(ctx context.Context, s Scope) ([]Task, error) {
	refs, err := c.entities(ctx, s)
	if err != nil {
		return nil, err
	}
	s.Period = s.Period.window(time.Now())
	seen := map[string]bool{}
	var out []Task
	for _, ref := range refs {
		filter := types.TaskFilterSpec{
			Entity: &types.TaskFilterSpecByEntity{Entity: ref, Recursion: types.TaskFilterSpecRecursionOption(c.recursion(ref))},
			Time: &types.TaskFilterSpecByTime{
				TimeType: types.TaskFilterSpecTimeOptionQueuedTime, BeginTime: &s.Period.Since, EndTime: &s.Period.Until,
			},
		}
		tasks, err := c.readTasks(ctx, filter)
		if err != nil {
			return nil, fmt.Errorf("tasks of %s %s on %s: %w", ref.Type, ref.Value, c.ep.addr, err)
		}
		for _, ti := range tasks {
			if !seen[ti.Key] {
				seen[ti.Key] = true
				out = append(out, taskOf(ti))
			}
		}
	}
	slices.SortFunc(out, func(a, b Task) int { return cmp.Or(a.Queued.Compare(b.Queued), cmp.Compare(a.Key, b.Key)) })
	return out, nil
}

func (c *Client) readTasks(ctx context.Context, filter types.TaskFilterSpec) ([]types.TaskInfo, error) {
	hc, err := task.NewManager(c.vim).CreateCollectorForTasks(ctx, filter)
	if err != nil {
		return nil, err
	}
	defer hc.Destroy(context.WithoutCancel(ctx))
	var all []types.TaskInfo
	for {
		page, err := hc.ReadNextTasks(ctx, pageSize)
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			return all, nil
		}
		all = append(all, page...)
	}
}

func taskOf(ti types.TaskInfo) Task {
	out := Task{
		Key: ti.Key, DescriptionID: ti.DescriptionId, Entity: ti.EntityName, State: string(ti.State),
		Queued: ti.QueueTime.UTC(), Started: utc(ti.StartTime), Completed: utc(ti.CompleteTime), Cancelled: ti.Cancelled, ChainID: ti.EventChainId,
	}
	if ti.Entity != nil {
		out.EntityMoRef, out.EntityType = ti.Entity.Value, ti.Entity.Type
	}
	if ti.Error != nil {
		out.Error = ti.Error.LocalizedMessage
		if out.Error == "" && ti.Error.Fault != nil {
			out.Error = fmt.Sprintf("%T", ti.Error.Fault)
		}
	}
	switch r := ti.Reason.(type) {
	case *types.TaskReasonUser:
		out.Reason, out.User = "user", r.UserName
	case *types.TaskReasonSystem:
		out.Reason = "system"
	case *types.TaskReasonAlarm:
		out.Reason = "alarm " + r.AlarmName
	case *types.TaskReasonSchedule:
		out.Reason = "schedule " + r.Name
	}
	return out
}
