//! A slab: values parked under a `u32` slot until taken back, the slots of taken values reused
//! before the slab grows. The event queue parks large one-shot events in one (its heap then orders
//! small `(time, seq, slot)` entries); the runner parks the `send` row of each message in flight in
//! another, until the message's `deliver` (or `drop`) row reuses it.

/// Values by slot.
#[derive(Debug)]
pub struct Slab<T> {
    values: Vec<Option<T>>,
    /// Slots whose value has been taken, reused before `values` grows.
    free: Vec<u32>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab { values: Vec::new(), free: Vec::new() }
    }
}

impl<T> Slab<T> {
    pub fn with_capacity(n: usize) -> Self {
        Slab { values: Vec::with_capacity(n), free: Vec::new() }
    }

    /// Parks `value`; its slot.
    #[inline(always)]
    pub fn insert(&mut self, value: T) -> u32 {
        match self.free.pop() {
            Some(slot) => {
                self.values[slot as usize] = Some(value);
                slot
            }
            None => {
                let slot = u32::try_from(self.values.len()).expect("more than 2^32 values in a slab");
                self.values.push(Some(value));
                slot
            }
        }
    }

    /// The value parked at `slot` (which must hold one).
    pub fn get(&self, slot: u32) -> &T {
        self.values[slot as usize].as_ref().expect("a slab slot in use holds its value")
    }

    /// The value parked at `slot` (which must hold one), to change in place.
    #[inline(always)]
    pub fn get_mut(&mut self, slot: u32) -> &mut T {
        self.values[slot as usize].as_mut().expect("a slab slot in use holds its value")
    }

    /// Drops the value parked at `slot` (which must hold one) where it lies and frees the slot:
    /// `take` without moving the value out.
    #[inline(always)]
    pub fn remove(&mut self, slot: u32) {
        let value = &mut self.values[slot as usize];
        debug_assert!(value.is_some(), "a slab slot in use holds its value");
        *value = None;
        self.free.push(slot);
    }

    /// Takes the value parked at `slot` (which must hold one) and frees the slot.
    #[inline(always)]
    pub fn take(&mut self, slot: u32) -> T {
        let value = self.values[slot as usize].take().expect("a slab slot in use holds its value");
        self.free.push(slot);
        value
    }
}

#[cfg(test)]
mod tests {
    use super::Slab;

    #[test]
    fn taken_slots_are_reused_before_the_slab_grows() {
        let mut slab = Slab::default();
        let (a, b) = (slab.insert("a"), slab.insert("b"));
        assert_eq!((a, b), (0, 1));
        assert_eq!(*slab.get(b), "b");
        assert_eq!(slab.take(a), "a");
        assert_eq!(slab.insert("c"), a);
        assert_eq!(slab.insert("d"), 2);
        assert_eq!((slab.take(a), slab.take(b)), ("c", "b"));
        let e = slab.insert("e");
        *slab.get_mut(e) = "f";
        assert_eq!(*slab.get(e), "f");
        slab.remove(e);
        assert_eq!(slab.insert("g"), e);
    }
}
