import {describeDocumentedCommands} from './documented-commands.js'

// The documented commands of the groups GROUPS_BY_FILE gives this file (documented-commands.ts says how).
describeDocumentedCommands('documented-commands.test.ts', true)
