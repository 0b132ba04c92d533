/** Action entry. The GitHub Action lands with the action issue; until then this fails clearly. */
import * as core from '@actions/core';

core.setFailed('memdelta: the GitHub Action is not implemented yet; use the CLI (npx memdelta compare).');
