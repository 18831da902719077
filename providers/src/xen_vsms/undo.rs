//! What a VSMS method did so far, as the XenAPI calls that take it back: a method that fails
//! half-way runs them in reverse order, so nothing half-done is left behind.

use crate::backend::Backend;
use crate::xenapi_conn::XenError;
use xenapi_client::Call;
use xenapi_model::Value;

/// One planned XenAPI call, and the call that takes it back (`None`: it cannot be taken back,
/// such as growing a disk, so it runs after every step that can). Made from typed calls
/// (`xenapi_client::calls`) and kept encoded, so that a plan can be looked at and compared.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub method: &'static str,
    pub args: Vec<Value>,
    pub inverse: Option<(&'static str, Vec<Value>)>,
}

fn encoded<T>(c: Call<T>) -> (&'static str, Vec<Value>) {
    let (method, args, _) = c.into_parts();
    (method, args)
}

impl Step {
    pub fn new(call: Call<()>, inverse: Option<Call<()>>) -> Step {
        let (method, args) = encoded(call);
        Step { method, args, inverse: inverse.map(encoded) }
    }
}

pub struct Undo<'b> {
    b: &'b Backend,
    steps: Vec<(&'static str, Vec<Value>)>,
}

impl<'b> Undo<'b> {
    pub fn new(b: &'b Backend) -> Undo<'b> {
        Undo { b, steps: Vec::new() }
    }

    pub fn backend(&self) -> &'b Backend {
        self.b
    }

    /// Runs `call`; once it succeeded, `inverse` is what takes it back.
    pub fn call<T>(&mut self, call: Call<T>, inverse: Option<Call<()>>) -> Result<T, XenError> {
        let answer = self.b.run(call)?;
        if let Some(inverse) = inverse {
            self.push(inverse);
        }
        Ok(answer)
    }

    /// Runs planned steps: those that can be taken back first, in order, then the others.
    pub fn run(&mut self, steps: Vec<Step>) -> Result<(), XenError> {
        let (reversible, last): (Vec<Step>, Vec<Step>) = steps.into_iter().partition(|s| s.inverse.is_some());
        for s in reversible.into_iter().chain(last) {
            // Encoded by a typed call already (`Step::new`): sent as it is.
            self.b.call(s.method, s.args)?;
            if let Some(inverse) = s.inverse {
                self.steps.push(inverse);
            }
        }
        Ok(())
    }

    /// Records a step done elsewhere (e.g. a VBD made by a helper): `inverse` takes it back.
    pub fn push(&mut self, inverse: Call<()>) {
        self.steps.push(encoded(inverse));
    }

    /// Takes back every step, last first (each one is tried); the steps that failed, as text
    /// for the error message ("" when all went back).
    pub fn rollback(self) -> String {
        let failed: Vec<String> = self.steps.into_iter().rev().filter_map(|(m, a)| self.b.call(m, a).err().map(|e| format!("{m}: {e}"))).collect();
        if failed.is_empty() {
            String::new()
        } else {
            format!(" (and undoing failed: {})", failed.join("; "))
        }
    }
}
