import {describe, it, expect} from 'vitest'
import {sharedAddressCause} from '../checks/production.js'

// Walked: cni.ipam.unique led with "$RANDOM % 255 is the original's bug" for a plugin that keeps the
// starter's per-address files and only lacks the lock. The hint answers the cause the check saw.
describe('cni.ipam.unique: why two pods got one address', () => {
  const pods = (ips: string[]): Array<{name: string; ip: string}> =>
    ips.map((ip, i) => ({name: i < 4 ? `seq${i}` : `par${i - 4}`, ip}))

  it('successive addresses one after another, one shared in the wave: the lock, and no word of $RANDOM', () => {
    const c = sharedAddressCause(pods(['10.9.0.2', '10.9.0.3', '10.9.0.4', '10.9.0.5', '10.9.0.6', '10.9.0.6']), 4, [
      '10.9.0.6',
    ])
    expect(c.when).toBe(' while ADDs ran at once')
    expect(c.seen).toBe('the 4 ADDs one after another got distinct, successive addresses')
    expect(c.hint).toMatch(/^Two ADDs running at once .*flock/)
    expect(c.hint).not.toMatch(/RANDOM|random/)
  })

  it('scattered addresses one after another: random picks, with the original bug named', () => {
    const c = sharedAddressCause(pods(['10.9.0.17', '10.9.0.4', '10.9.0.9', '10.9.0.12', '10.9.0.4', '10.9.0.8']), 4, [
      '10.9.0.4',
    ])
    expect(c.seen).toBe(
      'the 4 ADDs one after another got 10.9.0.17, 10.9.0.4, 10.9.0.9, 10.9.0.12: not the next free address each time',
    )
    expect(c.hint).toMatch(/^Addresses picked at random .*\$RANDOM % 255/)
  })

  it('one address twice with no ADD beside it: random too, said so', () => {
    const c = sharedAddressCause(pods(['10.9.0.5', '10.9.0.5', '10.9.0.6', '10.9.0.7', '10.9.0.8', '10.9.0.9']), 4, [
      '10.9.0.5',
    ])
    expect(c.when).toBe(', with no ADD running beside another')
    expect(c.hint).toMatch(/\$RANDOM/)
  })

  it('a wave pod given an address an earlier pod holds: the files are not consulted', () => {
    const c = sharedAddressCause(pods(['10.9.0.2', '10.9.0.3', '10.9.0.4', '10.9.0.5', '10.9.0.2', '10.9.0.6']), 4, [
      '10.9.0.2',
    ])
    expect(c.seen).toBe('a pod added later got an address a pod made before it still holds')
    expect(c.hint).not.toMatch(/RANDOM/)
  })
})
