// Who owns a ledger entry, in namespaces of their own, so that a pod named "metrics-exporter"
// and the metrics exporter can never be taken for each other.

/** Entries made for a pod (its netns, its workload). */
export const podOwner = (pod: string): string => `pod:${pod}`
/** A long-running helper the tool starts (exporter, controller, containerd). */
export const processOwner = (what: string): string => `process:${what}`
/** Objects a lab's check run makes. */
export const checkOwner = (lab: number): string => `check:lab${lab}`
