import {describeHealedBroken} from './healed-broken.js'

// Every step of the labs LABS_BY_FILE gives this file (healed-broken.ts says how).
describeHealedBroken('healed-broken.test.ts')
