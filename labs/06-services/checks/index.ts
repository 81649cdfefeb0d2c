// Lab 6's checks, one file per step that first lists them; lab.yaml orders the run.
import type {CheckDefinition} from '#checks/engine.js'
import type {Lab6Context} from '../context.js'
import {SOCKET_LB_CHECKS} from './socket-lb.js'
import {MAGLEV_CHECKS} from './maglev.js'
import {BACKENDS_CHECKS} from './backends.js'
import {PEER_AND_UDP_CHECKS} from './peer-and-udp.js'

export const LAB6_CHECKS: Array<CheckDefinition<Lab6Context>> = [
  ...SOCKET_LB_CHECKS,
  ...BACKENDS_CHECKS,
  ...PEER_AND_UDP_CHECKS,
  ...MAGLEV_CHECKS,
]
